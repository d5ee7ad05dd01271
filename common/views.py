"""Pieces every public read view shares."""

from rest_framework.permissions import AllowAny


class PublicReadMixin:
    # Public content is the same for everyone: no authentication to run, so a stale or bad token on
    # a public page is never a 401.
    authentication_classes = []
    permission_classes = [AllowAny]
