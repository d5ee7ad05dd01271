from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .probes import liveness_response, readiness_response

# GET on these paths is answered by ops.probes.HealthProbeMiddleware before the Host is validated; the
# views remain for the URL names and for the 405 any other method gets (from an allowed host).


@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers. Touches no database, cache or broker."""
    return liveness_response()


@never_cache
@require_GET
def readyz(request):
    """
    Readiness: 200 when no check fails, 503 otherwise, in about READINESS_CHECK_TIMEOUT whatever hangs.
    A plain Django view, outside /api/: the public cache never sees it, and nothing here reads the
    session or the user, so the middleware touch neither the database nor the cache (ops/health.py).
    """
    return readiness_response()
