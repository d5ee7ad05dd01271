"""
Database backups that are proven by restoring them: a dump and its manifest (row counts and checksums
of every table) in STORAGES["backups"]. What a backup is and the operator's runbook: docs/backups.md.
"""

# The client programs run with fixed arguments and libpq's environment; nothing comes from a request.
# ruff: noqa: S603
import contextlib
import json
import logging
import random
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.services import audit_record
from common import filecrypt

from . import backup_engines as engines
from . import backup_media, backup_verdicts, erasure_boundary
from .backup_engines import BackupError, BackupSetupError  # noqa: F401 - the errors of every backup step
from .models import BackupRecord, BackupTier, VerifyStatus
from .selectors import backup_newest_verified

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
MANIFEST_SUFFIX = ".manifest.json"
EXTENSIONS = {"postgresql": "pgdump", "sqlite": "sqlite3"}
# `verify_backup --random` picks among the backups of this many days, unverified ones first.
RANDOM_RECENT_DAYS = 7


# --- Creating ---------------------------------------------------------------------------------------


def _backup_name(tier: str, vendor: str, encrypted: bool, moment: datetime, label: str = "") -> str:
    parts = ["indivillage", moment.strftime("%Y%m%dT%H%M%SZ"), tier]
    if label:
        parts.append(label)
    parts.append(secrets.token_hex(3))
    return "-".join(parts) + "." + EXTENSIONS[vendor] + (".enc" if encrypted else "")


def manifest_name(name: str) -> str:
    return name + MANIFEST_SUFFIX


def backup_create(*, tier: str, label: str = "", actor=None, alias: str = "default") -> BackupRecord:
    """Dumps the database, stores the dump and its manifest, records and audits it."""
    if tier not in BackupTier.values:
        raise BackupError(f"unknown tier {tier!r}: use one of {', '.join(BackupTier.values)}.")
    vendor = engines.vendor(alias)
    if vendor not in EXTENSIONS:
        raise BackupError(f"backups support PostgreSQL and SQLite, not {vendor}.")
    secret = settings.BACKUP_ENCRYPTION_KEY
    started = timezone.now()
    clock = time.monotonic()
    name = _backup_name(tier, vendor, bool(secret), started, label)
    storage = engines.storage()
    with engines.scratch_dir() as folder:
        target = Path(folder) / "backup"
        if vendor == "postgresql":
            dumped = engines.pg_dump(alias, target, secret)
        else:
            dumped = engines.sqlite_dump(alias, Path(folder), target, secret)
        manifest = {
            "format": MANIFEST_FORMAT,
            "name": name,
            "tier": tier,
            "engine": vendor,
            "server_version": dumped["server_version"],
            "app_version": settings.APP_VERSION,
            "created_at": started.isoformat(),
            erasure_boundary.MANIFEST_KEY: dumped[erasure_boundary.MANIFEST_KEY],
            "sha256": dumped["sha256"],
            "size": dumped["size"],
            "encrypted": bool(secret),
            "key_fingerprint": filecrypt.key_fingerprint(secret) if secret else "",
            "migrations": dumped["migrations"],
            "tables": dumped["tables"],
        }
        saved: list[str] = []
        try:
            with open(target, "rb") as handle:
                saved.append(storage.save(name, File(handle, name=name)))
            if saved[0] != name:  # a storage that renames on collision: keep the manifest beside it
                manifest["name"] = name = saved[0]
            if settings.BACKUP_INCLUDE_FILES:
                # After the dump (ops/backup_media.py says why), beside it, before the manifest.
                collected = backup_media.files_collect(Path(folder), secret)
                with open(collected.path, "rb") as handle:
                    saved.append(storage.save(backup_media.files_name(name), File(handle)))
                manifest["files"] = collected.manifest
                manifest["files_vanished"] = collected.vanished
            manifest_body = ContentFile(json.dumps(manifest, indent=1, sort_keys=True).encode())
            saved.append(storage.save(manifest_name(name), manifest_body))
            seconds = round(time.monotonic() - clock, 3)
            with transaction.atomic():
                record = record_create(manifest)
                audit_record(
                    action="backup.created",
                    entity=record,
                    actor=actor,
                    changes={
                        "name": name,
                        "tier": tier,
                        "size": manifest["size"],
                        "sha256": manifest["sha256"],
                        "tables": len(manifest["tables"]),
                        "rows": sum(table["rows"] for table in manifest["tables"].values()),
                        "files": manifest.get("files", {}).get("count", 0),
                        "seconds": seconds,
                    },
                )
        except BaseException:
            # The database or the storage went away half-way: a file without its record and audit row
            # is a backup nobody knows of, so none is left behind (best effort: the storage may be gone).
            for stored in saved:
                with contextlib.suppress(Exception):
                    storage.delete(stored)
            raise
    logger.info("backup %s written: %s bytes in %.1f s", name, manifest["size"], seconds)
    return record


# --- Finding backups --------------------------------------------------------------------------------


def manifest_load(name: str) -> dict:
    """The manifest stored beside the backup (the record's copy when the file is gone)."""
    storage = engines.storage()
    sidecar = manifest_name(name)
    if storage.exists(sidecar):
        with storage.open(sidecar, "rb") as handle:
            try:
                return json.loads(handle.read())
            except ValueError as error:
                raise BackupError(f"the manifest {sidecar} is not valid JSON: {error}") from error
    record = BackupRecord.objects.filter(name=name).first()
    if record is not None and record.manifest:
        return record.manifest
    raise BackupError(f"no backup named {name!r}: `manage.py backup_db --list` shows the backups in storage.")


def record_create(manifest: dict) -> BackupRecord:
    """The BackupRecord a manifest describes, dated when the backup was taken (for a new backup and for
    one found in storage alike)."""
    return BackupRecord.objects.create(
        name=manifest["name"],
        tier=manifest.get("tier", BackupTier.MANUAL),
        engine=manifest.get("engine", ""),
        size=manifest.get("size", 0),
        sha256=manifest.get("sha256", ""),
        encrypted=manifest.get("encrypted", False),
        manifest=manifest,
        created_at=parse_datetime(manifest.get("created_at", "")) or timezone.now(),
    )


def backup_records_sync() -> list[BackupRecord]:
    """
    Creates the missing BackupRecords from the manifests in storage, and gives every record the
    verification verdict stored beside its backup when that is newer than its own: after a restore
    (which brings back the records of its own time) and on a new machine pointed at old backups.
    """
    storage = engines.storage()
    try:
        _, files = storage.listdir("")
    except FileNotFoundError:  # a local folder that no backup has created yet
        files = []
    files = set(files)
    known = {record.name: record for record in BackupRecord.objects.all()}
    created = []
    for sidecar in sorted(files):
        if not sidecar.endswith(MANIFEST_SUFFIX):
            continue
        name = sidecar[: -len(MANIFEST_SUFFIX)]
        if name not in files:
            continue
        record = known.get(name)
        if record is None:
            # Named by its file: the manifest travels with it, but the file is what a restore reads.
            record = record_create({**manifest_load(name), "name": name})
            created.append(record)
        if backup_verdicts.verdict_name(name) in files:
            # A verdict reached after the database's copy of this record was taken (a restore).
            backup_verdicts.verdict_apply(record, backup_verdicts.verdict_load(name))
    return created


def backup_pick(*, name: str = "", latest: bool = False, pick_random: bool = False) -> str:
    """The backup that `verify_backup` and `restore_db` are asked for, by name, newest or at random."""
    if name:
        return name
    records = BackupRecord.objects.order_by("-created_at")
    if latest:
        record = records.first()
        if record is None:
            raise BackupError("there is no backup yet: run `manage.py backup_db --tier manual` first.")
        return record.name
    if pick_random:
        recent = list(records.filter(created_at__gte=timezone.now() - timedelta(days=RANDOM_RECENT_DAYS)))
        if not recent:
            raise BackupError(f"there is no backup from the last {RANDOM_RECENT_DAYS} days to verify.")
        unverified = [record for record in recent if record.verify_status == VerifyStatus.UNVERIFIED]
        return random.choice(unverified or recent).name  # noqa: S311 -- a sample, not a secret
    raise BackupError("name a backup, or say --latest or --random.")


# --- Fetching and checking the file -----------------------------------------------------------------


def fetch_checked(name: str, manifest: dict, folder: Path) -> Path:
    """
    A local path to the plaintext dump, after the stored bytes matched the manifest's sha256 and size
    and, when encrypted, every chunk authenticated. Reads a local storage in place; anything else
    (S3) is downloaded to `folder` first.
    """
    storage = engines.storage()
    if not storage.exists(name):
        raise BackupError(f"the backup file {name} is missing from storage.")
    try:
        local = Path(storage.path(name))
    except NotImplementedError:
        local = folder / "download"
        with storage.open(name, "rb") as source, open(local, "wb") as out:
            shutil.copyfileobj(source, out, filecrypt.CHUNK)
    key = key_for(manifest) if manifest.get("encrypted") else ""
    return engines.checked_plain(
        local,
        sha256=manifest["sha256"],
        size=manifest["size"],
        key=key,
        plain=folder / "plain",
        what="the file",
    )


def key_for(manifest: dict) -> str:
    """The key an encrypted backup was made with: the current one or one of BACKUP_ENCRYPTION_OLD_KEYS."""
    keys = [key for key in [settings.BACKUP_ENCRYPTION_KEY, *settings.BACKUP_ENCRYPTION_OLD_KEYS] if key]
    if not keys:
        raise BackupSetupError(
            "the backup is encrypted: set BACKUP_ENCRYPTION_KEY to the key it was made with."
        )
    wanted = manifest.get("key_fingerprint")
    for key in keys:
        if not wanted or filecrypt.key_fingerprint(key) == wanted:
            return key
    raise BackupSetupError(
        "neither BACKUP_ENCRYPTION_KEY nor BACKUP_ENCRYPTION_OLD_KEYS is the key this backup was made with "
        f"(its key fingerprint is {wanted})."
    )


def compare(expected: dict, found: dict) -> list[str]:
    problems = []
    for table in sorted(set(expected) | set(found)):
        if table not in found:
            problems.append(f"{table}: missing after the restore")
        elif table not in expected:
            problems.append(f"{table}: present after the restore but not in the manifest")
        elif found[table]["rows"] != expected[table]["rows"]:
            problems.append(
                f"{table}: {found[table]['rows']} rows, the manifest says {expected[table]['rows']}"
            )
        elif found[table]["checksum"] != expected[table]["checksum"]:
            problems.append(f"{table}: {found[table]['rows']} rows as expected, but their checksum differs")
    return problems


# --- Pruning ----------------------------------------------------------------------------------------


@dataclass
class PruneResult:
    deleted: list[str] = field(default_factory=list)
    kept_newest_verified: str = ""


def backups_prune(*, dry_run: bool = False, now: datetime | None = None, actor=None) -> PruneResult:
    """
    Deletes hourly and daily backups past their tier's age (settings.BACKUP_KEEP); manual backups stay.
    The newest backup that passed verification is never deleted, however old: it may be the only one
    known to restore.
    """
    now = now or timezone.now()
    result = PruneResult()
    newest_verified = backup_newest_verified()
    if newest_verified is not None:
        result.kept_newest_verified = newest_verified.name
    storage = engines.storage()
    for tier, keep in settings.BACKUP_KEEP.items():
        expired = BackupRecord.objects.filter(tier=tier, created_at__lt=now - keep).order_by("created_at")
        if newest_verified is not None:
            expired = expired.exclude(pk=newest_verified.pk)
        for record in expired:
            result.deleted.append(record.name)
            if dry_run:
                continue
            # The file first: a record without a file is reported by verification, a file without a
            # record would be forgotten.
            storage.delete(record.name)
            storage.delete(manifest_name(record.name))
            storage.delete(backup_media.files_name(record.name))
            storage.delete(backup_verdicts.verdict_name(record.name))
            record.delete()
    if result.deleted and not dry_run:
        audit_record(
            action="backup.pruned",
            entity_type="ops.backuprecord",
            actor=actor,
            changes={"deleted": result.deleted, "kept_newest_verified": result.kept_newest_verified},
        )
    return result
