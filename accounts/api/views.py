from django.contrib.auth import logout
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.preferences import unsubscribe
from accounts.services import (
    InvalidCredentials,
    LoginLocked,
    RegistrationThrottled,
    user_login,
    user_logout,
    user_logout_all,
    user_register,
    user_update,
)
from accounts.verification import ResendThrottled, email_verification_resend, email_verify
from common.authentication import TokenAuthentication
from common.net import client_ip
from common.parsers import JSONParser

from .serializers import (
    AuthTokenOutputSerializer,
    DetailOutputSerializer,
    EmailVerifyInputSerializer,
    LoginInputSerializer,
    RegisterInputSerializer,
    UnsubscribeInputSerializer,
    UserOutputSerializer,
    UserUpdateInputSerializer,
)

TAGS = ["accounts"]


REGISTERED = (
    "Check your inbox: we sent a mail to the address to finish signing up. Then log in with your "
    "e-mail address and password."
)


class RegisterApi(APIView):
    # No authentication: a stale token in the header must not stand in the way of signing up.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAGS,
        operation_id="auth_register",
        summary="Create an account (role `user`); a mail confirms the address",
        description=(
            "202 with the same answer whether or not the address already has an account, so sign-up "
            "tells nobody who is a client: a new address gets an account and a mail with a link that "
            "verifies it (POST /api/v1/auth/verify-email/); a known address is left as it is and gets a "
            "mail saying it already has an account. No token: log in next (an unverified account can "
            "log in). The password rules apply the same way in both cases. Attempts are limited per "
            "address and per client address: beyond them 429 with Retry-After."
        ),
        request=RegisterInputSerializer,
        responses={202: DetailOutputSerializer},
    )
    def post(self, request):
        serializer = RegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user_register(**serializer.validated_data, ip=client_ip(request))
        except RegistrationThrottled as throttled:
            raise Throttled(wait=throttled.retry_after, detail="Too many sign-up attempts.") from None
        return Response({"detail": REGISTERED}, status=status.HTTP_202_ACCEPTED)


class VerifyEmailApi(APIView):
    # The token and the account's own sign-in together: a link mailed to someone who never signed up
    # must not hand their address to whoever did (accounts.verification.email_verify).
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAGS,
        operation_id="auth_verify_email",
        summary="Confirm an e-mail address with the token of the verification mail",
        description=(
            "The public site passes on the token from the link (EMAIL_VERIFICATION_URL), signed in as "
            "the account the mail was sent for (the site asks for the log-in first). 200 with the "
            "profile, now `email_verified: true`: the forms sent on the site with this address before "
            "the account existed become part of its export and erasure. 400 for a wrong, expired "
            "(EMAIL_VERIFICATION_MAX_AGE) or already used token, one for an address since changed, or "
            "one mailed for another account. A session needs the CSRF token."
        ),
        request=EmailVerifyInputSerializer,
        responses={200: UserOutputSerializer},
    )
    def post(self, request):
        serializer = EmailVerifyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = email_verify(token=serializer.validated_data["token"], user=request.user)
        return Response(UserOutputSerializer(user).data)


class VerifyEmailResendApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        operation_id="auth_verify_email_resend",
        summary="Send the verification mail again",
        description=(
            "202: a new link goes to your address (none when it is already verified). A few per hour "
            "(EMAIL_VERIFICATION_RESEND_MAX per EMAIL_VERIFICATION_RESEND_WINDOW); beyond that 429 "
            "with Retry-After. A session needs the CSRF token."
        ),
        request=None,
        responses={202: DetailOutputSerializer},
    )
    def post(self, request):
        try:
            email_verification_resend(user=request.user)
        except ResendThrottled as throttled:
            raise Throttled(wait=throttled.retry_after, detail="Too many verification mails.") from None
        return Response({"detail": "Check your inbox."}, status=status.HTTP_202_ACCEPTED)


class LoginApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAGS,
        operation_id="auth_login",
        summary="Exchange e-mail and password for an API token",
        description=(
            "Wrong credentials (or an inactive account) get one generic 401, whether or not the address "
            "exists. After too many failures for the account or from the client address, attempts get "
            "429 with Retry-After until the window ends, even with the right password."
        ),
        request=LoginInputSerializer,
        responses={200: AuthTokenOutputSerializer},
    )
    def post(self, request):
        serializer = LoginInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            issued = user_login(**serializer.validated_data, ip=client_ip(request), request=request)
        except InvalidCredentials as error:
            raise AuthenticationFailed(str(error)) from None
        except LoginLocked as locked:
            raise Throttled(wait=locked.retry_after, detail="Too many failed log-in attempts.") from None
        return Response(AuthTokenOutputSerializer(issued).data)

    def get_authenticate_header(self, request):
        # A 401 names the scheme the token from this endpoint is used with (DRF turns a 401 without
        # WWW-Authenticate into a 403).
        return TokenAuthentication().authenticate_header(request)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        operation_id="auth_logout",
        summary="Sign out: revoke the token used for this request, or end the browser session",
        description=(
            "With a token, that token is revoked; with a session (the browsable API, CSRF token in "
            "`X-CSRFToken`), the session ends. Other tokens and sessions of the account stay valid."
        ),
        request=None,
        responses={204: None},
    )
    def post(self, request):
        user_logout(user=request.user, token=request.auth, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        operation_id="auth_logout_all",
        summary="Log out everywhere: revoke every token and end every session of yours",
        description=(
            "Every API token of the caller stops working (this one too) and every session (the admin's, "
            "the browsable API's) ends, on every device. Works with a token or a session (a session "
            "needs the CSRF token). Log in again for a new token. Changing a password does the same."
        ),
        request=None,
        responses={204: None},
    )
    def post(self, request):
        user_logout_all(user=request.user)
        if request.auth is None:
            # Session-authenticated: the generation change already ends this session; flushing it
            # also drops its row and hands the browser a fresh, empty session.
            logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    # The signed-in user's own account; compliance.api adds DELETE (the erasure) and routes me/.

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAGS, operation_id="me_retrieve", summary="Your profile", responses=UserOutputSerializer
    )
    def get(self, request):
        return Response(UserOutputSerializer(request.user).data)

    @extend_schema(
        tags=TAGS,
        operation_id="me_partial_update",
        summary="Change your profile",
        description="Read-only fields (id, email, role, created_at) and unknown fields get a 400.",
        request=UserUpdateInputSerializer,
        responses=UserOutputSerializer,
    )
    def patch(self, request):
        serializer = UserUpdateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = user_update(user=request.user, actor=request.user, **serializer.validated_data)
        return Response(UserOutputSerializer(user).data)


class UnsubscribeApi(APIView):
    """
    The link of a mail's List-Unsubscribe header (RFC 8058: the mail client POSTs
    `List-Unsubscribe=One-Click` to it) and of the public site's unsubscribe page (JSON `token`). No
    log-in: the signed token is the proof, and a session cookie would only add a CSRF check that a mail
    client cannot pass.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        tags=TAGS,
        operation_id="auth_unsubscribe",
        summary="Stop a mail (the case-study digest) with the token of its unsubscribe link",
        description=(
            "The token comes in the query string (`?token=`, as the mail's List-Unsubscribe header has "
            "it) or in the body. 200 once the preference is off, and again for the same link. 400 for a "
            "token that is not valid or whose account is gone."
        ),
        request=UnsubscribeInputSerializer,
        responses={200: DetailOutputSerializer},
    )
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        token = request.query_params.get("token") or body.get("token")
        if not isinstance(token, str) or not token or len(token) > 512:
            raise serializers.ValidationError({"token": ["This field is required."]})
        _, flag = unsubscribe(token=token)
        return Response(
            {"detail": f"Done: {flag.replace('_', ' ')} is off. Turn it on again in your account."}
        )
