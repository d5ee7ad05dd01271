from django.http import JsonResponse
from django.urls import include, path


def baseline(request):
    """The floor: Django's full middleware stack and a JsonResponse, no database, no cache."""
    return JsonResponse({"count": 0, "next": None, "previous": None, "results": []})


urlpatterns = [
    path("bench/baseline/", baseline),
    path("", include("config.urls")),
]
