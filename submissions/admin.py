from django.contrib import admin

from .models import FormSubmission


@admin.register(FormSubmission)
class FormSubmissionAdmin(admin.ModelAdmin):
    # The encrypted data is not listed: opening it is an audited act (the admin issue adds that view).
    list_display = ["form_type", "status", "created_at"]
    list_filter = ["form_type", "status"]
    exclude = ["data", "email_hash"]
    readonly_fields = ["form_type", "user", "status", "idempotency_key", "error", "services"]
