from django.urls import path

from .views import MeApi, MeExportApi

urlpatterns = [
    path("me/", MeApi.as_view(), name="me-detail"),
    path("me/export/", MeExportApi.as_view(), name="me-export"),
]
