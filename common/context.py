"""Per-request context (request id, client IP) that the audit log reads without threading a request."""

from contextlib import contextmanager
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


# The user the request has authenticated, once it has: a session's lazy user when something loaded it
# (accounts.backends), a token when DRF checked it (common.authentication). Code below the view, the
# replica router, reads it here instead of loading the user itself.
_user: ContextVar = ContextVar("authenticated_user", default=None)


def user_authenticated(user) -> None:
    _user.set(user)


def authenticated_user():
    return _user.get()


@contextmanager
def authenticated_user_scope():
    """One request's scope: no user at its start, and none left behind for the next."""
    token = _user.set(None)
    try:
        yield
    finally:
        _user.reset(token)
