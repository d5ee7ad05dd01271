"""Admin pieces with no app behind them."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """
    Rows that code writes and reads back (audit rows, job locks, backup records), or that are edited
    elsewhere (impact metrics, with their story): shown to staff, never added, changed or deleted here,
    superusers included.
    """

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
