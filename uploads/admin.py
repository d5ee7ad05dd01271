from django.contrib import admin

from .models import FileUpload, UploadStatus


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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Analysis")
    def analysis_summary(self, obj):
        analysis = getattr(obj, "analysis", None)
        return analysis.summary if analysis else "-"
