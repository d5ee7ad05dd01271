"""A URLconf that routes a public-cache path to a plain view (test_caching)."""

from django.urls import path

from .test_caching import _uncached_services

urlpatterns = [path("api/v1/services/", _uncached_services)]
