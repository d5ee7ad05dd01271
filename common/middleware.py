import re
import zoneinfo

from django.conf import settings
from django.utils import timezone

from .context import RequestContext, reset_request_context, set_request_context
from .ids import uuid7
from .net import client_ip

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """
    Gives every request an id (the proxy's X-Request-ID when it is well-formed) and records the client
    address (X-Forwarded-For only from TRUSTED_PROXIES), so audit rows written anywhere below can name
    both. The id is echoed in the response.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid7().hex
        request.request_id = request_id
        token = set_request_context(
            RequestContext(request_id=request_id, ip_address=client_ip(request) or None)
        )
        try:
            response = self.get_response(request)
        finally:
            reset_request_context(token)
        response["X-Request-ID"] = request_id
        return response


class PermissionsPolicyMiddleware:
    """
    Sends PERMISSIONS_POLICY on every response (Django has no setting for it): camera, microphone,
    geolocation, payment, USB and the rest are denied to the site and to anything it embeds.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.PERMISSIONS_POLICY:
            response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class EditorTimeZoneMiddleware:
    """
    The admin shows and takes times in the editors' time zone (settings.EDITOR_TIME_ZONE, India by
    default); Django stores them in UTC as always, and the API keeps answering in UTC.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.resolver_match.app_name == "admin":
            timezone.activate(zoneinfo.ZoneInfo(settings.EDITOR_TIME_ZONE))
