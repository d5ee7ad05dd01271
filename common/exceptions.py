"""
One error shape for the whole API:

    {"error": {"code": "validation_error", "message": "…", "fields": {"email": ["…"]}}}

`fields` is present only when specific inputs are wrong; each names what is wrong with that input.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

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
    423: "locked",
    429: "throttled",
    503: "service_unavailable",
}


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
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is down or unreachable: say so, and let the client retry.
        logger.warning("Database unavailable: %s", exc)
        return Response(
            error_body(503, "The service is temporarily unavailable. Please retry shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
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


def json_500(request):
    return JsonResponse(error_body(500, "Something went wrong on our side.", code="server_error"), status=500)
