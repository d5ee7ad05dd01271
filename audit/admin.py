from django.contrib import admin

from .models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "entity_type", "entity_id", "actor", "ip_address"]
    list_filter = ["action", "entity_type"]
    search_fields = ["entity_id", "request_id"]
    list_select_related = ["actor"]

    # Read-only for everyone, superusers included.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
