from django.contrib import admin, messages

from .models import FileUpload, UploadStatus
from .services import upload_reprocess


class QuarantinedFilter(admin.SimpleListFilter):
    title = "quarantine"
    parameter_name = "quarantined"

    def lookups(self, request, model_admin):
        return [("yes", "Quarantined only"), ("no", "Not quarantined")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=UploadStatus.QUARANTINED)
        if self.value() == "no":
            return queryset.exclude(status=UploadStatus.QUARANTINED)
        return queryset


@admin.register(FileUpload)
class FileUploadAdmin(admin.ModelAdmin):
    """Read-only: an upload changes only through the upload pipeline's services."""

    list_display = ["filename", "user", "status", "size", "mime_type", "analysis_summary", "created_at"]
    list_filter = [QuarantinedFilter, "status", "mime_type"]
    search_fields = ["filename", "sha256", "user__email"]
    list_select_related = ["user", "analysis"]
    readonly_fields = [field.name for field in FileUpload._meta.fields] + ["analysis_summary"]
    actions = ["reprocess"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # No field is edited by hand; the change permission only unlocks the reprocess action.
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="Analysis")
    def analysis_summary(self, obj):
        analysis = getattr(obj, "analysis", None)
        return analysis.summary if analysis else "-"

    @admin.action(description="Scan and analyse the selected failed uploads again", permissions=["change"])
    def reprocess(self, request, queryset):
        failed = queryset.filter(status=UploadStatus.FAILED)
        count = 0
        for upload in failed:
            upload_reprocess(upload=upload, actor=request.user)
            count += 1
        skipped = queryset.count() - count
        self.message_user(request, f"{count} upload(s) queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} skipped: only failed uploads go round again.", messages.WARNING
            )
