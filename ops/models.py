from django.db import models
from django.utils import timezone

from common.models import BaseModel


class Heartbeat(BaseModel):
    """The last sign of life of a long-running process (Celery beat), for readiness to read."""

    name = models.CharField(max_length=100, unique=True)
    beat_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class BackupTier(models.TextChoices):
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"
    MANUAL = "manual", "Manual"


class VerifyStatus(models.TextChoices):
    UNVERIFIED = "unverified", "Not verified yet"
    PASSED = "passed", "Restored and matched its manifest"
    FAILED = "failed", "Failed verification"


class BackupRecord(BaseModel):
    """
    One database backup in STORAGES["backups"]. The manifest says what a faithful restore must give
    back (migration state, row count and checksum of every table), so that verification can prove it.
    """

    name = models.CharField(max_length=200, unique=True)
    tier = models.CharField(max_length=16, choices=BackupTier.choices)
    engine = models.CharField(max_length=32)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    encrypted = models.BooleanField(default=False)
    manifest = models.JSONField(default=dict, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verify_status = models.CharField(
        max_length=16, choices=VerifyStatus.choices, default=VerifyStatus.UNVERIFIED, db_index=True
    )
    verify_details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tier", "created_at"], name="ops_backup_tier_created_idx")]

    def __str__(self):
        return self.name
