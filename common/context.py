"""Per-request context (request id, client IP) that the audit log reads without threading a request."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None


_EMPTY = RequestContext()
_current: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def get_request_context() -> RequestContext:
    return _current.get() or _EMPTY


def set_request_context(context: RequestContext):
    return _current.set(context)


def reset_request_context(token) -> None:
    _current.reset(token)
