"""
Operations in the admin: backups, job locks and heartbeats to look at (every row is written by the
jobs themselves, so none is editable here). The Database metrics page is ops.views.db_metrics_view.
"""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from common.admin import ReadOnlyAdmin
from common.models import JobLock

from .health import age_text
from .metrics import human_bytes
from .models import BackupRecord, Heartbeat, VerifyStatus


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
