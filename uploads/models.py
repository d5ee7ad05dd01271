import json

from django.conf import settings
from django.core.files.storage import storages
from django.db import models

from common.models import BaseModel


class UploadStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    UPLOADING = "uploading", "Uploading"
    UPLOADED = "uploaded", "Uploaded"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    QUARANTINED = "quarantined", "Quarantined"


class FileUpload(BaseModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    # The client's name, sanitised, for display only: storage never uses it.
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    # Sniffed from the content, never taken from the client.
    mime_type = models.CharField(max_length=100, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=UploadStatus.choices, default=UploadStatus.PENDING, db_index=True
    )
    storage_path = models.CharField(max_length=255, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="upload_user_created_idx")]

    def __str__(self):
        return self.filename


class FileAnalysis(BaseModel):
    upload = models.OneToOneField(FileUpload, on_delete=models.CASCADE, related_name="analysis")
    summary = models.TextField()
    # The full result is a JSON document in private storage; rows stay small.
    details_path = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name_plural = "file analyses"

    def __str__(self):
        return f"Analysis of {self.upload}"

    @property
    def details(self) -> dict:
        if not self.details_path:
            return {}
        with storages["private"].open(self.details_path, "rb") as handle:
            return json.load(handle)
