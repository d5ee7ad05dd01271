"""
The project's admin site: Django's, with its titles, the log-in form that shares the API's lockout, and
the Database metrics page of ops (a page of its own, not a model's, so it is added here).
"""

from django.contrib import admin
from django.urls import path

from accounts.forms import AdminLoginForm
from ops.views import METRICS_URL_NAME, db_metrics_view, metrics_page_in_app_list


class AdminSite(admin.AdminSite):
    site_header = "IndiVillage administration"
    site_title = "IndiVillage admin"
    index_title = "Content, impact and operations"
    # The admin's log-in shares the API's lockout and audit (accounts.services.user_authenticate).
    login_form = AdminLoginForm

    def get_urls(self):
        page = path("ops/db-metrics/", self.admin_view(db_metrics_view), name=METRICS_URL_NAME)
        return [page, *super().get_urls()]

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        if app_label not in (None, "ops"):
            return app_list
        return metrics_page_in_app_list(request, app_list)
