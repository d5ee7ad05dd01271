"""
The session log-in forms (the admin's and the browsable API's). Each goes
through the services the API uses: one lockout, one audit trail.
"""

import math

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from common.net import client_ip

from .services import (
    InvalidCredentials,
    LoginLocked,
    session_login_record,
    user_authenticate,
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

