"""
The answers to the orchestrator's probes, /healthz and /readyz, and the middleware that gives them
before anything validates the Host header.

Probes come with whatever Host the orchestrator sends: a pod's IP, `localhost:8000` from compose's own
health check, a service name. Django checks the Host against ALLOWED_HOSTS as soon as
`request.get_host()` runs (CommonMiddleware does so on every request), so a probe by IP would get 400
and a healthy pod would be killed. Listing every possible probe address in ALLOWED_HOSTS is not
possible (pod IPs change) and would widen what the public site accepts. So HealthProbeMiddleware, first
in MIDDLEWARE, answers GET /healthz and GET /readyz itself: it builds the response from ops.health
(it calls no view), and the response depends on nothing the request says but its path and method.
Every other request, and any other method on these paths, goes through the usual stack and its Host
validation.
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
