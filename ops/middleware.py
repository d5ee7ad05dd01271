"""
Read-your-writes for the read replica (ops/routers.py): a request that wrote pins its browser (cookie)
and its user (cache) to the primary for REPLICA_PIN_SECONDS. Installed with the replica only
(docs/database.md).
"""

from django.conf import settings

from common.context import authenticated_user
from common.exceptions import database_was_unavailable

from .routers import (
    PIN_COOKIE,
    pin_cookie_valid,
    pin_cookie_value,
    pin_until,
    replica_rest,
    request_reads,
    user_pin_set,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class ReplicaPinMiddleware:
    """
    Sits before the session middleware, so that the session it saves on the way out counts as a write.
    Public-cache hits never reach it (PublicCacheMiddleware answers them earlier in the chain), and a miss
    that will be stored reads the primary: the page is served to everyone until the next content write,
    so read from a lagging replica it would stay stale long after the replica caught up.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        unsafe = request.method not in SAFE_METHODS
        primary = unsafe or pin_cookie_valid(request) or getattr(request, "public_cache_fill", False)
        with request_reads(request, primary=primary) as state:
            response = self.get_response(request)
            user = authenticated_user()
        if state.replica_read and database_was_unavailable(response):
            # Most likely the replica (the request read it); if it was the primary, resting the replica
            # changes nothing for the worse.
            replica_rest()
        if unsafe or state.wrote:
            self._pin(response, user)
        return response

    def _pin(self, response, user) -> None:
        until = pin_until()
        response.set_cookie(
            PIN_COOKIE,
            pin_cookie_value(until),
            max_age=settings.REPLICA_PIN_SECONDS,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        if user is not None and user.is_authenticated:
            user_pin_set(user.pk, until)
