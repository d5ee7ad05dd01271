"""The GDPR endpoints of the signed-in user: erase the account (DELETE me/) and export its data."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.views import TAGS
from accounts.api.views import MeApi as AccountMeApi
from accounts.services import LoginLocked
from common.exceptions import ApiError
from common.net import client_ip
from common.schema import DeleteWithBodySchema

from ..gdpr import GdprRefused, user_erase_self, user_export
from .serializers import UserEraseInputSerializer, UserExportOutputSerializer


class MeApi(AccountMeApi):
    # accounts' me/ (GET, PATCH) with the erasure. A comment, not a docstring: drf-spectacular would
    # publish a docstring as the description of GET and PATCH. DELETE carries the confirming password.

    schema = DeleteWithBodySchema()

    @extend_schema(
        tags=TAGS,
        operation_id="me_destroy",
        summary="Erase your account and personal data (GDPR)",
        description=(
            "Deletes the account with your form submissions (including those sent as a visitor with the "
            "same e-mail address once you have verified it; before that, only those sent while signed "
            "in), uploads and their files, and every token. It cannot be undone: the "
            "current password is required (a wrong or missing one gets 400 and changes nothing); wrong "
            "passwords count towards the log-in lockout, and once it is reached the request gets 429 with "
            "Retry-After. 409 when the account cannot be erased now: under legal hold, or the last "
            "active admin."
        ),
        request=UserEraseInputSerializer,
        responses={204: None},
        extensions={"x-extra-errors": ["409"]},
    )
    def delete(self, request):
        serializer = UserEraseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user_erase_self(
                user=request.user, password=serializer.validated_data["password"], ip=client_ip(request)
            )
        except GdprRefused as refusal:
            raise ApiError(refusal.messages[0], status=409, code=refusal.code or "conflict") from None
        except LoginLocked as locked:
            raise Throttled(wait=locked.retry_after, detail="Too many failed password attempts.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportApi(APIView):
    permission_classes = [IsAuthenticated]
    # A file to save, not a page: no browsable-API rendering.
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=TAGS,
        operation_id="me_export",
        summary="Download all your personal data (GDPR export)",
        description=(
            "One JSON document: your profile, your form submissions (also those sent as a visitor with "
            "the same e-mail address, once you have verified it: before that, only those sent while "
            "signed in), your uploads with their analyses, and the audit events about "
            "your account or done by you. Sent as an attachment, never cached."
        ),
        responses={200: UserExportOutputSerializer},
        parameters=[
            OpenApiParameter(
                "Content-Disposition",
                str,
                OpenApiParameter.HEADER,
                response=[200],
                description='attachment; filename="indivillage-personal-data-<date>.json"',
            ),
            OpenApiParameter(
                "Cache-Control", str, OpenApiParameter.HEADER, response=[200], description="private, no-store"
            ),
        ],
    )
    def get(self, request):
        document = user_export(user=request.user, actor=request.user)
        response = Response(document)
        stamp = timezone.now().strftime("%Y%m%d")
        response["Content-Disposition"] = f'attachment; filename="indivillage-personal-data-{stamp}.json"'
        # Personal data: no shared cache may keep it, and the browser should not either.
        response["Cache-Control"] = "private, no-store"
        return response
