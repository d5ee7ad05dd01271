from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .models import FormSubmission
from .services import (
    submission_mail_resend,
    submission_mark_completed,
    submission_pii_viewed,
    submissions_export_csv,
)


@admin.register(FormSubmission)
class FormSubmissionAdmin(admin.ModelAdmin):
    """
    Read-only: a lead is what the visitor sent. Its decrypted data shows on the change page only, and
    every opening is audited as `pii.viewed`; the list shows no personal data at all.
    """

    list_display = ["created_at", "form_type", "status", "account"]
    list_filter = ["form_type", "status"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    fields = ["form_type", "status", "created_at", "account", "interested_in", "submitted_data", "error"]
    readonly_fields = fields
    actions = ["mark_completed", "mail_resend", "export_csv"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting personal data is erasure: the retention and GDPR paths do it, audited.
        return False

    def has_change_permission(self, request, obj=None):
        # The actions need the permission on the list; no field is ever edited.
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="Account")
    def account(self, obj):
        return obj.user.email if obj.user_id else "Visitor (no account)"

    @admin.display(description="Interested in")
    def interested_in(self, obj):
        return ", ".join(service.name for service in obj.services.all()) or "-"

    @admin.display(description="Submitted data")
    def submitted_data(self, obj):
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", sorted(obj.data.items()))
        return format_html("<table>{}</table>", rows)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            submission_pii_viewed(submission=self.get_object(request, object_id), actor=request.user)
        return response

    @admin.action(description="Mark selected as completed", permissions=["change"])
    def mark_completed(self, request, queryset):
        for submission in queryset:
            submission_mark_completed(submission=submission, actor=request.user)
        self.message_user(request, f"{queryset.count()} submission(s) marked completed.", messages.SUCCESS)

    @admin.action(
        description="E-mail sales again for the selected failed submissions (check the inbox first)",
        permissions=["change"],
    )
    def mail_resend(self, request, queryset):
        queued = sum(submission_mail_resend(submission=row, actor=request.user) for row in queryset)
        self.message_user(
            request, f"{queued} failed submission(s) queued to be e-mailed again.", messages.SUCCESS
        )

    @admin.action(description="Export selected as CSV (decrypted; audited)", permissions=["view"])
    def export_csv(self, request, queryset):
        body = submissions_export_csv(submissions=queryset, actor=request.user)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="submissions-{stamp}.csv"'
        return response
