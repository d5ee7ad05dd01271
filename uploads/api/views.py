from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.exceptions import ApiError
from uploads import selectors, services
from uploads.handlers import LimitedUploadHandler
from uploads.models import FileUpload
from uploads.sniffing import Refused

from .serializers import AnalysisSerializer, UploadInputSerializer, UploadSerializer


class UploadListCreateApi(generics.ListAPIView):
    # GET lists the client's uploads, POST receives one (streamed through the size-limiting handler).
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]
    serializer_class = UploadSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return FileUpload.objects.none()
        return selectors.upload_list(user=self.request.user)

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body (authentication's CSRF check may): the handler that
        # enforces the size limit while the body streams in.
        self.upload_handler = LimitedUploadHandler(request, limit=settings.UPLOAD_MAX_BYTES)
        request.upload_handlers = [self.upload_handler]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": UploadInputSerializer},
        responses={201: UploadSerializer, 413: OpenApiResponse(description="Too large, or over the quota.")},
        description=(
            f"Upload one sample file (field `file`, at most {settings.UPLOAD_MAX_BYTES:,} bytes). Its type is "
            "decided from its content; it is scanned for viruses and analysed in the background: poll the "
            "upload until its status is completed, failed or quarantined."
        ),
    )
    def post(self, request):
        files = request.FILES.getlist("file")  # parses the body through the limited handler
        if self.upload_handler.too_large:
            raise ApiError(
                f"The file is larger than the {settings.UPLOAD_MAX_BYTES:,} bytes allowed.",
                status=413,
                code="file_too_large",
            )
        if len(files) != 1 or len(request.FILES) != 1:
            raise ApiError("Send exactly one file, in the field `file`.", code="validation_error")
        uploaded = files[0]
        try:
            upload = services.upload_receive(
                user=request.user,
                temporary_path=uploaded.temporary_file_path(),
                filename=uploaded.name,
                size=uploaded.size,
                sha256=self.upload_handler.sha256.hexdigest(),
            )
        except Refused as refusal:
            raise ApiError(str(refusal), status=refusal.status, code=refusal.code) from refusal
        except services.QuotaExceeded as error:
            raise ApiError(str(error), status=413, code="quota_exceeded") from error
        finally:
            uploaded.close()
        upload.refresh_from_db()  # processing may already have run (eager mode)
        return Response(
            UploadSerializer(selectors.upload_get(user=request.user, upload_id=upload.pk)).data, status=201
        )


class UploadDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=UploadSerializer)
    def get(self, request, upload_id):
        return Response(UploadSerializer(selectors.upload_get(user=request.user, upload_id=upload_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, upload_id):
        upload = selectors.upload_get(user=request.user, upload_id=upload_id)
        services.upload_delete(upload=upload, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadAnalysisApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=AnalysisSerializer)
    def get(self, request, upload_id):
        upload = selectors.upload_get(user=request.user, upload_id=upload_id)
        try:
            analysis = upload.analysis
        except ObjectDoesNotExist:
            raise ApiError(
                f"No analysis yet: the upload is {upload.status}.", status=404, code="not_found"
            ) from None
        return Response(AnalysisSerializer({"summary": analysis.summary, "details": analysis.details}).data)
