from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import readiness_run


@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers. Touches no database, cache or broker."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """
    Readiness: 200 when no check fails, 503 otherwise, in about READINESS_CHECK_TIMEOUT whatever hangs.
    A plain Django view, outside /api/: the public cache never sees it, and nothing here reads the
    session or the user, so the middleware touch neither the database nor the cache (ops/health.py).
    """
    readiness = readiness_run()
    return JsonResponse(readiness.as_dict(), status=readiness.http_status)
