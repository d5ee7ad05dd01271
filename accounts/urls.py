"""
The browsable API's session log-in and log-out, in place of rest_framework.urls (same namespace and
names, which DRF's templates link to): the log-in form goes through the lockout and audit of every
other log-in path (accounts.forms.BrowsableApiLoginForm).
"""

from django.contrib.auth.views import LoginView, LogoutView
from django.urls import path

from .forms import BrowsableApiLoginForm

app_name = "rest_framework"

urlpatterns = [
    path(
        "login/",
        LoginView.as_view(
            template_name="rest_framework/login.html", authentication_form=BrowsableApiLoginForm
        ),
        name="login",
    ),
    path("logout/", LogoutView.as_view(), name="logout"),
]
