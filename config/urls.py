from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from common.views import media_file
from ops.views import healthz, readyz

api_v1 = [
    path("", include("content.api.urls")),
    path("", include("impact.api.urls")),
    path("", include("submissions.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("compliance.api.urls")),
    path("", include("uploads.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # Session log-in for the browsable API (CSRF-protected), under the log-in lockout; API clients use
    # tokens.
    path("api/auth/", include("accounts.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as its own file (no inline script): the page works
    # under a CSP without 'unsafe-inline'.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # The media library's renditions under the development server and the browser tests; a 404 in
    # production, where nginx answers /media/ before the app is asked.
    path("media/<path:path>", media_file, name="media-file"),
]

handler400 = "common.exceptions.json_400"
handler404 = "common.exceptions.json_404"
handler500 = "common.exceptions.json_500"
