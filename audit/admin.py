from django.contrib import admin

from common.admin import ReadOnlyAdmin

from .models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "entity_type", "entity_id", "actor", "ip_address"]
    list_filter = ["action", "entity_type"]
    search_fields = ["entity_id", "request_id"]
    list_select_related = ["actor"]
