"""
Operations in the admin: backups, job locks and heartbeats to look at (every row is written by the
jobs themselves, so none is editable here), and the Database metrics page (ops/metrics.py).
"""

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from common.admin import ReadOnlyAdmin
from common.models import JobLock

from .health import age_text
from .metrics import db_metrics, human_bytes
from .models import BackupRecord, Heartbeat, VerifyStatus

METRICS_URL_NAME = "ops_db_metrics"
METRICS_LIMIT = 20


@admin.register(BackupRecord)
class BackupRecordAdmin(ReadOnlyAdmin):
    list_display = ["name", "tier", "size_display", "created_at", "verify_display", "verified_at"]
    list_filter = ["tier", "verify_status", "encrypted"]
    search_fields = ["name", "sha256"]
    date_hierarchy = "created_at"
    fields = [
        "name",
        "tier",
        "engine",
        "size_display",
        "sha256_display",
        "encrypted",
        "created_at",
        "verify_status",
        "verified_at",
        "verification",
        "contents",
        "migrations",
    ]
    readonly_fields = fields

    # Short labels for the list, where the model's long ones wrapped over four lines.
    SHORT_STATUS = {
        VerifyStatus.PASSED: "passed",
        VerifyStatus.FAILED: "FAILED",
        VerifyStatus.UNVERIFIED: "not yet",
    }

    @admin.display(description="SHA-256")
    def sha256_display(self, obj):
        return format_html("<code>{}</code>", obj.sha256)

    @admin.display(description="Verification details")
    def verification(self, obj):
        details = obj.verify_details or {}
        if not details:
            return "Not verified yet: manage.py verify_backup " + obj.name
        summary = format_html(
            "{} tables, {} rows restored and compared in {} s",
            details.get("tables", 0),
            f"{details.get('rows', 0):,}",
            details.get("seconds", 0),
        )
        problems = details.get("problems") or []
        if not problems:
            return format_html("{}: every count and checksum matched.", summary)
        items = format_html_join("", "<li>{}</li>", ((problem,) for problem in problems))
        return format_html('{}.<ul style="color: var(--error-fg)">{}</ul>', summary, items)

    @admin.display(description="Contents (from the manifest)")
    def contents(self, obj):
        manifest = obj.manifest or {}
        tables = manifest.get("tables", {})
        summary = format_html(
            "{} tables, {} rows; taken by app version {} on {} {}.",
            len(tables),
            f"{sum(entry['rows'] for entry in tables.values()):,}",
            manifest.get("app_version", "?"),
            manifest.get("engine", ""),
            manifest.get("server_version", ""),
        )
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td style="text-align: right">{}</td><td><code>{}</code></td></tr>',
            (
                (table, f"{entry['rows']:,}", entry["checksum"])
                for table, entry in sorted(tables.items(), key=lambda item: -item[1]["rows"])
            ),
        )
        return format_html(
            "{}<details><summary>Row count and checksum of every table</summary><table>"
            "<thead><tr><th>table</th><th>rows</th><th>checksum</th></tr></thead><tbody>{}</tbody>"
            "</table></details>",
            summary,
            rows,
        )

    @admin.display(description="Migrations")
    def migrations(self, obj):
        applied = (obj.manifest or {}).get("migrations", [])
        items = format_html_join("", "<li><code>{}</code></li>", ((name,) for name in applied))
        return format_html(
            "{} applied<details><summary>Show them</summary><ul>{}</ul></details>", len(applied), items
        )

    @admin.display(description="Size", ordering="size")
    def size_display(self, obj):
        return human_bytes(obj.size)

    @admin.display(description="Verification", ordering="verify_status")
    def verify_display(self, obj):
        # The one column an operator scans for: a failed restore must stand out.
        label = self.SHORT_STATUS.get(obj.verify_status, obj.verify_status)
        if obj.verify_status == VerifyStatus.FAILED:
            return format_html('<strong style="color: var(--error-fg)">{}</strong>', label)
        return label


@admin.register(JobLock)
class JobLockAdmin(ReadOnlyAdmin):
    list_display = ["name", "holder", "created_at", "expires_at", "expired"]
    fields = ["name", "holder", "created_at", "expires_at"]
    readonly_fields = fields

    @admin.display(boolean=True, description="Expired")
    def expired(self, obj):
        # An expired lock is freed by the next run that wants it; one listed here held on past its ttl.
        return obj.expires_at <= timezone.now()


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["name", "beat_at", "age", "details"]
    fields = ["name", "beat_at", "details"]
    readonly_fields = fields

    @admin.display(description="Age")
    def age(self, obj):
        return age_text(timezone.now() - obj.beat_at)


# --- the Database metrics page --------------------------------------------------------------------


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
        context["metrics"] = found = db_metrics(using=alias, limit=METRICS_LIMIT)
        ratio = found.get("cache", {}).get("hit_ratio")
        context["hit_percent"] = None if ratio is None else f"{ratio * 100:.2f}"
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


def install_metrics_page(site: admin.AdminSite) -> None:
    """
    Puts the page at /admin/ops/db-metrics/ and in the Operations app of the index, on the project's
    one admin site (`admin.site`, no custom AdminSite class): its own get_urls and get_app_list are
    wrapped. A ModelAdmin's get_urls could only place it under a model's URL.
    """
    if getattr(site, "_ops_metrics_installed", False):
        return
    site_urls, site_app_list = site.get_urls, site.get_app_list

    def get_urls():
        page = path("ops/db-metrics/", site.admin_view(db_metrics_view), name=METRICS_URL_NAME)
        return [page, *site_urls()]

    def get_app_list(request, app_label=None):
        app_list = site_app_list(request, app_label)
        if app_label not in (None, "ops") or not _metrics_allowed(request):
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

    site.get_urls = get_urls
    site.get_app_list = get_app_list
    site._ops_metrics_installed = True


install_metrics_page(admin.site)
