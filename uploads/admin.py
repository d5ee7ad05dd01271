from django.contrib import admin

from .models import FileUpload


@admin.register(FileUpload)
class FileUploadAdmin(admin.ModelAdmin):
    list_display = ["filename", "user", "status", "size", "mime_type", "created_at"]
    list_filter = ["status", "mime_type"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in FileUpload._meta.fields]
