from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .metrics import db_metrics
from .metrics_display import metrics_sections
from .probes import liveness_response, readiness_response

# The Database metrics page, in the admin (config/admin.py adds it to the project's AdminSite).
METRICS_URL_NAME = "ops_db_metrics"
METRICS_LIMIT = 20

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


def _metrics_allowed(request) -> bool:
    # Admins only: the page shows row counts of users, tokens and submissions, and editors work on
    # content and impact alone (DESIGN.md). Role admin is a superuser (accounts.roles.ROLE_FLAGS).
    return request.user.is_active and request.user.is_superuser


def db_metrics_view(request):
    """Admins only: what `manage.py db_metrics` prints, for one alias."""
    if not _metrics_allowed(request):
        raise PermissionDenied
    aliases = list(settings.DATABASES)
    alias = request.GET.get("database", "default")
    if alias not in aliases:
        alias = "default"
    context = {
        **admin.site.each_context(request),
        "title": "Database metrics",
        "aliases": aliases,
        "alias": alias,
        "app_label": "ops",
        "ops_verbose_name": apps.get_app_config("ops").verbose_name,
    }
    try:
        context["sections"] = metrics_sections(db_metrics(using=alias, limit=METRICS_LIMIT))
    except DatabaseError as error:
        # A replica that is down must not turn the page into a 500 that hides the primary's figures.
        context["error"] = f"Could not read the metrics of {alias!r}: {error}"
    return TemplateResponse(request, "admin/ops/db_metrics.html", context)


def _metrics_entry() -> dict:
    # The shape of a model row in the admin's app list, so the index and the sidebar link the page.
    return {
        "model": None,
        "name": "Database metrics",
        "object_name": "DatabaseMetrics",
        "perms": {"add": False, "change": False, "delete": False, "view": True},
        "admin_url": reverse(f"admin:{METRICS_URL_NAME}"),
        "add_url": None,
        "view_only": True,
    }


def metrics_page_in_app_list(request, app_list: list[dict]) -> list[dict]:
    """The page as an entry of the Operations app in the index and the sidebar, for admins."""
    if not _metrics_allowed(request):
        return app_list
    ops = next((app for app in app_list if app["app_label"] == "ops"), None)
    if ops is None:
        ops = {
            "name": apps.get_app_config("ops").verbose_name,
            "app_label": "ops",
            "app_url": reverse("admin:app_list", kwargs={"app_label": "ops"}),
            "has_module_perms": True,
            "models": [],
        }
        app_list.append(ops)
        app_list.sort(key=lambda app: app["name"].lower())
    ops["models"].append(_metrics_entry())
    ops["models"].sort(key=lambda model: model["name"])
    return app_list
