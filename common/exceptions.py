"""
One error shape for the whole API:

    {"error": {"code": "validation_error", "message": "…", "fields": {"email": ["…"]}}}

`fields` is present only when specific inputs are wrong; each names what is wrong with that input.
"""

import logging
import sys

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.urls import NoReverseMatch, reverse
from django.views.defaults import bad_request
from psycopg_pool import PoolTimeout
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .pools import database_pools_discard_broken

logger = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    423: "locked",
    429: "throttled",
    503: "service_unavailable",
}


# The database cannot be reached: down, restarting, or no pooled connection within DATABASE_POOL_TIMEOUT
# (Django wraps psycopg_pool's PoolTimeout in its OperationalError; the bare one is listed for code that
# takes a connection from the pool itself). Transient: 503 with a retry hint, never a 500.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
RETRY_AFTER_SECONDS = 5
_UNAVAILABLE_MESSAGE = "The service is temporarily unavailable. Please retry shortly."


def _service_unavailable(exc, response_class):
    logger.warning("Database unavailable: %s", exc)
    database_pools_discard_broken()
    response = response_class(
        error_body(503, _UNAVAILABLE_MESSAGE), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )
    response.database_unavailable = True
    return response


def database_was_unavailable(response) -> bool:
    """
    Whether the response is the 503 of a database that did not answer. The replica's pin middleware
    (ops.middleware) asks: a request that read the replica and failed this way rests the replica.
    """
    return getattr(response, "database_unavailable", False)


class ApiError(exceptions.APIException):
    """A 4xx with a code of its own, e.g. ApiError("The file is empty.", status=400, code="empty_file")."""

    def __init__(self, message: str, *, status: int = 400, code: str = "bad_request"):
        super().__init__(detail=message)
        self.status_code = status
        self.error_code = code


def error_body(
    status_code: int, message: str, *, code: str | None = None, fields: dict | None = None
) -> dict:
    error = {"code": code or _CODES.get(status_code, "error"), "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _flatten(detail) -> dict:
    """DRF's nested error details as {"field": ["message", …]}, nested fields joined with dots."""
    flat: dict[str, list[str]] = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list) and value and not all(isinstance(v, str) for v in value):
            for index, item in enumerate(value):
                walk(f"{prefix}.{index}" if prefix else str(index), item)
        else:
            messages = value if isinstance(value, list) else [value]
            flat.setdefault(prefix or "non_field_errors", []).extend(str(m) for m in messages)

    walk("", detail)
    return flat


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, DATABASE_UNAVAILABLE):
        # The database is down or unreachable: say so, and let the client retry.
        return _service_unavailable(exc, Response)
    if isinstance(exc, DatabaseError):
        return None
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        only_general = set(fields) == {"non_field_errors"}
        message = fields["non_field_errors"][0] if only_general else "Some fields are not valid."
        response.data = error_body(
            response.status_code,
            message,
            code="validation_error",
            fields=None if only_general else fields,
        )
        return response
    if isinstance(exc, (Http404, PermissionDenied)):
        message = "Not found." if isinstance(exc, Http404) else "You do not have permission to do that."
    else:
        detail = getattr(exc, "detail", "")
        message = str(detail) if not isinstance(detail, (dict, list)) else "Request failed."
    code = getattr(exc, "default_code", None) if isinstance(exc, exceptions.APIException) else None
    # An exception of the project's own (ApiError) names its code; DRF's keep the per-status one.
    specific = getattr(exc, "error_code", None)
    response.data = error_body(
        response.status_code, message, code=specific or _CODES.get(response.status_code) or code
    )
    return response


def json_404(request, exception=None):
    return JsonResponse(error_body(404, "No such endpoint or object."), status=404)


def json_400(request, exception=None):
    """
    Django's own 400s, raised around a view rather than in it (SuspiciousOperation: a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields or files, a Host not in ALLOWED_HOSTS), in the API's
    error shape. An oversized body is a 413, as the API's own size limits are. The admin keeps Django's
    HTML page. Nothing from the request is echoed (the host, the size sent): the messages are fixed.
    """
    try:
        admin_prefix = reverse("admin:index")
    except NoReverseMatch:
        admin_prefix = None
    if admin_prefix and request.path.startswith(admin_prefix):
        return bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = error_body(413, f"The request body is larger than the {limit:,} bytes allowed.")
        return JsonResponse(body, status=413)
    if isinstance(exception, TooManyFieldsSent):
        message = (
            f"The request has more than the {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} form fields allowed."
        )
        code = "too_many_fields"
    elif isinstance(exception, TooManyFilesSent):
        message = f"The request has more than the {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files allowed."
        code = "too_many_files"
    elif isinstance(exception, DisallowedHost):
        message, code = "The Host header names a host this site does not serve.", "bad_host"
    else:
        message, code = "The request could not be understood.", "bad_request"
    return JsonResponse(error_body(400, message, code=code), status=400)


def json_500(request):
    # Django calls the 500 handler from inside its `except`, so the exception is still at hand. Outside
    # DRF (a plain view, the admin, or a middleware: the public cache's schedule lookup, a session save)
    # a database outage gets the same 503 as in the API handler. Here rather than in a process_exception
    # middleware, which would only see what views raise.
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return _service_unavailable(exc, JsonResponse)
    return JsonResponse(error_body(500, "Something went wrong on our side.", code="server_error"), status=500)
