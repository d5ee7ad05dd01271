from rest_framework import serializers

from uploads.models import FileUpload


class UploadInputSerializer(serializers.Serializer):
    """Documents the multipart body; the view reads the streamed file itself."""

    file = serializers.FileField(
        help_text="The sample file: CSV, TSV, JSON, NDJSON, text, XLSX, PNG or JPEG."
    )


class UploadSerializer(serializers.ModelSerializer):
    summary = serializers.SerializerMethodField(help_text="One paragraph about the file, once analysed.")

    class Meta:
        model = FileUpload
        fields = [
            "id",
            "filename",
            "size",
            "mime_type",
            "sha256",
            "status",
            "error",
            "summary",
            "created_at",
            "processed_at",
        ]

    def get_summary(self, upload) -> str | None:
        analysis = getattr(upload, "analysis", None)
        return analysis.summary if analysis else None


class AnalysisSerializer(serializers.Serializer):
    summary = serializers.CharField()
    details = serializers.JSONField(
        help_text="Everything the analysis found; its keys depend on the file's kind."
    )
