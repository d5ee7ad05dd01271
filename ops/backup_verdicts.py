"""
A backup's verification verdict, kept in STORAGES["backups"] beside the backup as
`<name>.verify.json`, so that it outlives the database that recorded it.

A restore brings back the BackupRecords of the backup's own time, and the records of the backups
taken since are rebuilt from their manifests: without the verdicts in storage every one of them would
read "unverified", and readiness would warn that no backup is known to restore right after one was.
"""

import json

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils.dateparse import parse_datetime

from .models import BackupRecord, VerifyStatus

VERDICT_SUFFIX = ".verify.json"


def verdict_name(name: str) -> str:
    return name + VERDICT_SUFFIX


def verdict_save(record: BackupRecord) -> None:
    """Writes the record's verdict beside its backup, replacing an older one."""
    storage = storages["backups"]
    sidecar = verdict_name(record.name)
    body = {
        "name": record.name,
        "status": record.verify_status,
        "verified_at": record.verified_at.isoformat() if record.verified_at else None,
        "details": record.verify_details,
    }
    # Delete, then save: storages that never overwrite (S3 here) would otherwise rename the new file.
    storage.delete(sidecar)
    storage.save(sidecar, ContentFile(json.dumps(body, indent=1, sort_keys=True).encode()))


def verdict_load(name: str) -> dict | None:
    """The stored verdict of `name`, or None when it has none (or an unreadable one: never verified)."""
    storage = storages["backups"]
    sidecar = verdict_name(name)
    if not storage.exists(sidecar):
        return None
    with storage.open(sidecar, "rb") as handle:
        try:
            body = json.loads(handle.read())
        except ValueError:
            return None
    verified_at = parse_datetime(body.get("verified_at") or "")
    if body.get("status") not in VerifyStatus.values or verified_at is None:
        return None
    return {
        "verify_status": body["status"],
        "verified_at": verified_at,
        "verify_details": body.get("details", {}),
    }


def verdict_apply(record: BackupRecord, verdict: dict | None) -> bool:
    """Puts a stored verdict on the record when it is newer than the record's own; True if it did."""
    if verdict is None or (record.verified_at and record.verified_at >= verdict["verified_at"]):
        return False
    for field, value in verdict.items():
        setattr(record, field, value)
    if record.pk and not record._state.adding:
        record.save(update_fields=[*verdict, "updated_at"])
    return True
