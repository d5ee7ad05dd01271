"""
The answers to the orchestrator's probes, /healthz and /readyz, given by a middleware before anything
validates the Host header, since probes come with whatever Host they like (docs/health.md).
"""

from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers

from .health import readiness_run


def liveness_response() -> JsonResponse:
    """Liveness: the process answers. Touches no database, cache or broker."""
    response = JsonResponse({"status": "ok"})
    add_never_cache_headers(response)
    return response


def readiness_response() -> JsonResponse:
    """Readiness: 200 when no check fails, 503 otherwise, in about READINESS_CHECK_TIMEOUT."""
    readiness = readiness_run()
    response = JsonResponse(readiness.as_dict(), status=readiness.http_status)
    add_never_cache_headers(response)
    return response


PROBES = {"/healthz": liveness_response, "/readyz": readiness_response}


class HealthProbeMiddleware:
    """First in MIDDLEWARE: GET /healthz and /readyz answered whatever the Host (see the module)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info) if request.method == "GET" else None
        if probe is not None:
            return probe()
        return self.get_response(request)
