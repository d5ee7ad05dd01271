from drf_spectacular.utils import extend_schema
from knox.auth import TokenAuthentication
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import (
    InvalidCredentials,
    LoginLocked,
    user_login,
    user_logout,
    user_register,
    user_update,
)
from common.net import client_ip

from .serializers import (
    AuthTokenOutputSerializer,
    LoginInputSerializer,
    RegisterInputSerializer,
    UserOutputSerializer,
    UserUpdateInputSerializer,
)

TAGS = ["accounts"]


class RegisterApi(APIView):
    # No authentication: a stale token in the header must not stand in the way of signing up.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        tags=TAGS,
        operation_id="auth_register",
        summary="Create an account (role `user`) and log in",
        request=RegisterInputSerializer,
        responses={201: AuthTokenOutputSerializer},
    )
    def post(self, request):
        serializer = RegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = user_register(**serializer.validated_data)
        return Response(AuthTokenOutputSerializer(issued).data, status=status.HTTP_201_CREATED)


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
    # Token only: the token presented is the one revoked, so a session has nothing to revoke here.
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        operation_id="auth_logout",
        summary="Revoke the token used for this request",
        request=None,
        responses={204: None},
    )
    def post(self, request):
        user_logout(user=request.user, token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
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
