"""
The archive of purged form submissions: before retention deletes old submissions, each batch is written,
encrypted, to the backup storage (STORAGES["backups"], under archive/submissions/), where it is kept for
the legal period (RETENTION["submission_archives"]) and then deleted by retention too. Layout and
procedure: docs/compliance.md, "The submission archive".

An archive holds what was deleted by age only. A GDPR erasure deletes without archiving, and reading an
archive leaves out every person erased since (by user id or e-mail blind index, from the erasure
records), as a restore does: a file written before someone's erasure never brings them back.
"""

import io
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from common import filecrypt
from common.crypto import email_blind_index
from common.storages import storage_walk
from submissions.models import FormSubmission

from .models import ErasureRecord

logger = logging.getLogger(__name__)

PREFIX = "archive/submissions"
FORMAT = 1


class ArchiveError(Exception):
    """The archive cannot be read: missing, altered, or encrypted with a key this process does not have."""


def _keys() -> list[str]:
    """The archive key first (the backup key, else the field key: always set), then the older ones."""
    keys = [
        settings.BACKUP_ENCRYPTION_KEY,
        settings.FIELD_ENCRYPTION_KEY,
        *settings.BACKUP_ENCRYPTION_OLD_KEYS,
        *settings.FIELD_ENCRYPTION_OLD_KEYS,
    ]
    return [key for key in keys if key]


def _row(submission: FormSubmission) -> dict:
    return {
        "id": str(submission.pk),
        "form_type": submission.form_type,
        "status": submission.status,
        "created_at": submission.created_at,
        "user_id": str(submission.user_id) if submission.user_id else None,
        "email_hash": submission.email_hash,
        "services": sorted(service.slug for service in submission.services.all()),
        "data": submission.data,
    }


def submissions_archive(submissions: list[FormSubmission], *, now: datetime | None = None) -> str:
    """
    Writes the submissions (decrypted from their fields, encrypted as one file) to the backup storage
    and returns the file's name; raises if the storage refuses, so that the caller deletes nothing.
    """
    now = now or timezone.now()
    key = _keys()[0]
    lines = "".join(json.dumps(_row(s), cls=DjangoJSONEncoder, sort_keys=True) + "\n" for s in submissions)
    sealed = io.BytesIO()
    writer = filecrypt.EncryptingWriter(sealed, key)
    writer.write(lines.encode())
    writer.close()
    header = {
        "format": FORMAT,
        "archived_at": now.isoformat(),
        "rows": len(submissions),
        "key_fingerprint": filecrypt.key_fingerprint(key),
    }
    # The header in clear ahead of the ciphertext: listing and pruning need no key.
    body = json.dumps(header).encode() + b"\n" + sealed.getvalue()
    name = f"{PREFIX}/{now:%Y/%m}/{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.jsonl.enc"
    return storages["backups"].save(name, ContentFile(body))


@dataclass
class Archive:
    name: str
    archived_at: datetime
    rows: int


def _header(raw: bytes, name: str) -> tuple[dict, bytes]:
    head, _, sealed = raw.partition(b"\n")
    try:
        header = json.loads(head)
        header["archived_at"] = datetime.fromisoformat(header["archived_at"])
    except (ValueError, KeyError, TypeError):
        raise ArchiveError(f"{name} is not a submission archive (its header is missing or damaged)") from None
    return header, sealed


def archives_list() -> list[Archive]:
    """Every archive in the backup storage, oldest first."""
    storage = storages["backups"]
    found = []
    for name in storage_walk(storage, PREFIX):
        if not name.endswith(".jsonl.enc"):
            continue
        try:
            with storage.open(name, "rb") as handle:
                header, _ = _header(handle.readline(), name)
        except ArchiveError:
            # One damaged file must not stop retention's other policies; it stays for an operator.
            logger.warning("submission archive %s has no readable header: left alone", name)
            continue
        found.append(Archive(name=name, archived_at=header["archived_at"], rows=header["rows"]))
    return sorted(found, key=lambda a: (a.archived_at, a.name))


def archive_read(name: str) -> list[dict]:
    """The rows of an archive, less the people erased since (ErasureRecord, by user id or blind index)."""
    if not name.startswith(PREFIX + "/") or ".." in name:
        raise ArchiveError(f"{name} is not a submission archive name (they start with {PREFIX}/)")
    storage = storages["backups"]
    if not storage.exists(name):
        raise ArchiveError(f"{name} was not found in the backup storage")
    with storage.open(name, "rb") as handle:
        header, sealed = _header(handle.read(), name)
    key = next((k for k in _keys() if filecrypt.key_fingerprint(k) == header["key_fingerprint"]), None)
    if key is None:
        raise ArchiveError(
            f"{name} was encrypted with a key this process does not have (fingerprint "
            f"{header['key_fingerprint']}): set it in BACKUP_ENCRYPTION_OLD_KEYS"
        )
    plain = io.BytesIO()
    try:
        filecrypt.decrypt_stream(io.BytesIO(sealed), plain, key)
    except filecrypt.BackupFileError as error:
        raise ArchiveError(f"{name}: {error}") from None
    rows = [json.loads(line) for line in plain.getvalue().decode().splitlines() if line]
    erased = ErasureRecord.objects.all()
    erased_users = {str(pk) for pk in erased.exclude(user_id=None).values_list("user_id", flat=True)}
    erased_hashes = set(erased.exclude(email_hash="").values_list("email_hash", flat=True))
    # The stored hash, and the address hashed with today's key: after a blind-index key rotation the
    # erasures made since carry hashes under the new key, the archive's rows under the old one.
    return [
        row
        for row in rows
        if row["user_id"] not in erased_users
        and row["email_hash"] not in erased_hashes
        and email_blind_index((row.get("data") or {}).get("email", "")) not in erased_hashes
    ]


def archives_expired(cutoff: datetime) -> list[Archive]:
    return [archive for archive in archives_list() if archive.archived_at < cutoff]


def archive_delete(archive: Archive) -> None:
    storages["backups"].delete(archive.name)
