"""
GDPR in the admin: the user list's export and erase actions and the erasure of a visitor's forms. They
are added to accounts' UserAdmin here, since compliance sits above accounts and accounts may not import it.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin import UserAdmin as AccountsUserAdmin
from accounts.models import Role, User
from accounts.selectors import user_by_email
from common.crypto import email_blind_index

from .gdpr import GdprRefused, user_erase, user_export, visitor_data_erase
from .models import ErasureReason
from .selectors import user_erasure_preview, visitor_submissions


class VisitorEraseForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        help_text="The address of a visitor without an account who asked for their forms to be erased.",
    )


class UserAdmin(AccountsUserAdmin):
    actions = ["export_personal_data", "erase_users"]

    def get_urls(self):
        erase_visitor = path(
            "erase-visitor-data/",
            self.admin_site.admin_view(self.erase_visitor_data_view),
            name="accounts_user_erase_visitor_data",
        )
        return [erase_visitor, *super().get_urls()]

    def has_gdpr_permission(self, request):
        return request.user.is_active and request.user.role == Role.ADMIN

    @admin.action(description="Export personal data (JSON)", permissions=["gdpr"])
    def export_personal_data(self, request, queryset):
        users = list(queryset[:2])
        if len(users) != 1:
            self.message_user(
                request, "Select exactly one user: an export is one person's file.", messages.WARNING
            )
            return None
        document = user_export(user=users[0], actor=request.user)
        response = HttpResponse(
            json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="personal-data-{users[0].pk}.json"'
        response["Cache-Control"] = "private, no-store"
        return response

    @admin.action(description="Erase selected users (GDPR)", permissions=["gdpr"])
    def erase_users(self, request, queryset):
        users = list(queryset)
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase users and their personal data?",
                "opts": self.model._meta,
                "rows": user_erasure_preview(users=users),
                "queryset": users,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
            }
            request.current_app = self.admin_site.name
            return TemplateResponse(request, "admin/accounts/user/erase_selected_confirmation.html", context)
        erased, refused = 0, []
        for user in users:
            if user.pk == request.user.pk:
                refused.append(f"{user.email}: not your own account; another admin must erase it.")
                continue
            try:
                user_erase(user=user, actor=request.user, reason=ErasureReason.ADMIN)
            except GdprRefused as refusal:
                refused.append(f"{user.email}: {refusal.messages[0]}")
                continue
            erased += 1
        if erased:
            self.message_user(request, f"Erased {erased} user(s) and their personal data.", messages.SUCCESS)
        for message in refused:
            self.message_user(request, f"Not erased: {message}", messages.ERROR)
        return None

    def erase_visitor_data_view(self, request):
        """
        The erasure request of a visitor without an account: the admin enters the address, sees how many
        forms it sent, then confirms (a second POST with confirm=yes). Admins only; CSRF-protected.
        """
        if not self.has_gdpr_permission(request):
            raise PermissionDenied
        form = VisitorEraseForm(request.POST or None)
        matches = None
        if request.method == "POST" and form.is_valid():
            email = form.cleaned_data["email"]
            if request.POST.get("confirm") == "yes":
                try:
                    record = visitor_data_erase(email=email, actor=request.user)
                except GdprRefused as refusal:
                    form.add_error("email", refusal.messages[0])
                else:
                    self.message_user(
                        request, f"Erased the visitor's forms (erasure record {record.pk}).", messages.SUCCESS
                    )
                    return HttpResponseRedirect(reverse("admin:accounts_user_changelist"))
            else:
                matches = visitor_submissions(email_hash=email_blind_index(email)).count()
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase a visitor's form submissions (GDPR)",
            "opts": self.model._meta,
            "form": form,
            "matches": matches,
            "has_account": form.is_valid() and user_by_email(email=form.cleaned_data["email"]) is not None,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/accounts/user/erase_visitor_data.html", context)


admin.site.unregister(User)
admin.site.register(User, UserAdmin)
