from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers. Touches no database, cache or broker."""
    return JsonResponse({"status": "ok"})
