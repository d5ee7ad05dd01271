"""
The session log-in forms (the admin's and the browsable API's) and the admin's password form. Each goes
through the services the API uses: one lockout, one audit trail, one password change.
"""

import math
from contextvars import ContextVar

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AdminPasswordChangeForm, AuthenticationForm
from django.core.exceptions import ValidationError

from common.net import client_ip

from .services import (
    InvalidCredentials,
    LoginLocked,
    session_login_record,
    user_authenticate,
    user_password_set,
)


class LockoutLoginMixin:
    """
    Replaces AuthenticationForm.clean's bare authenticate() with accounts.services.user_authenticate:
    wrong passwords count towards the lockout shared with the API's log-in, a locked account or address
    gets a message on the form (the right password too), and a log-in is audited with its path.
    """

    via: str

    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            try:
                self.user_cache = user_authenticate(
                    email=email, password=password, ip=client_ip(self.request), request=self.request
                )
            except LoginLocked as locked:
                minutes = max(1, math.ceil(locked.retry_after / 60))
                raise ValidationError(
                    "Too many failed log-in attempts; try again in %(minutes)s %(unit)s.",
                    code="locked",
                    params={"minutes": minutes, "unit": "minute" if minutes == 1 else "minutes"},
                ) from None
            except InvalidCredentials:
                raise self.get_invalid_login_error() from None
            self.confirm_login_allowed(self.user_cache)
            # The form is valid from here on and the login view logs the user in.
            session_login_record(user=self.user_cache, via=self.via)
        return self.cleaned_data


class AdminLoginForm(LockoutLoginMixin, AdminAuthenticationForm):
    """admin.site.login_form (config/urls.py)."""

    via = "admin"


class BrowsableApiLoginForm(LockoutLoginMixin, AuthenticationForm):
    """The browsable API's log-in page, /api/auth/login/ (accounts/urls.py)."""

    via = "browsable-api"


# The acting admin for UserPasswordForm.save(): Django's password view builds the form without the
# request, so UserAdmin.user_change_password sets this around the view (a ContextVar: per request).
password_actor: ContextVar = ContextVar("password_actor", default=None)


class UserPasswordForm(AdminPasswordChangeForm):
    """The admin's "change password" form, saved through user_password_set (tokens revoked, audited)."""

    def save(self, commit=True):
        usable = self.cleaned_data.get("set_usable_password", True)
        return user_password_set(
            user=self.user,
            password=self.cleaned_data["password1"] if usable else None,
            actor=password_actor.get(),
            via="admin",
        )
