from .models import BackupRecord, VerifyStatus


def backup_newest_verified() -> BackupRecord | None:
    """The newest backup (by when it was taken) that passed verification: the one known to restore."""
    return BackupRecord.objects.filter(verify_status=VerifyStatus.PASSED).order_by("-created_at").first()
