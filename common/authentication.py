from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from .context import user_authenticated


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's token check, noting the user it finds for the code below the view (common.context)."""

    def authenticate(self, request):
        found = super().authenticate(request)
        if found is not None:
            user_authenticated(found[0])
        return found


class OptionalTokenAuthentication(TokenAuthentication):
    """
    For forms anyone may send: a valid token links the submission to its user, while a stale or bad
    token is ignored instead of turning a lead away with a 401. No session: a form posted from a
    browser tab that happens to be logged in to the admin needs no CSRF token.
    """

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            return None


try:
    from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme

    # drf-spectacular matches authentication classes exactly: each of ours gets knox's scheme.
    class TokenScheme(KnoxTokenScheme):
        target_class = "common.authentication.TokenAuthentication"

    class OptionalKnoxTokenScheme(KnoxTokenScheme):
        # The same header as knox's own scheme, under its own name.
        target_class = "common.authentication.OptionalTokenAuthentication"
        name = "optionalKnoxApiToken"

except ImportError:  # pragma: no cover - drf-spectacular is a runtime dependency
    pass
