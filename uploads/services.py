"""
The upload lifecycle: pending -> uploading -> uploaded -> processing -> completed | failed | quarantined.
Every transition goes through upload_transition() and is audited; files live in private storage under
paths built from the upload's id, never from the client's name.
"""

import json
import logging
import shutil
import tempfile
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from audit.services import audit_record, audit_record_many
from common.tasks import task_delay

from .analysis import AnalysisError, analyse
from .models import FileAnalysis, FileUpload, UploadStatus
from .scanning import ScanRefused, scan_file
from .sniffing import KIND_OF_MIME, sanitize_filename, sniff

logger = logging.getLogger(__name__)

TRANSITIONS = {
    UploadStatus.PENDING: {UploadStatus.UPLOADING, UploadStatus.FAILED},
    UploadStatus.UPLOADING: {UploadStatus.UPLOADED, UploadStatus.FAILED},
    UploadStatus.UPLOADED: {UploadStatus.PROCESSING, UploadStatus.FAILED},
    # processing -> processing: a rerun after a crash picks the work up again.
    UploadStatus.PROCESSING: {
        UploadStatus.PROCESSING,
        UploadStatus.COMPLETED,
        UploadStatus.FAILED,
        UploadStatus.QUARANTINED,
    },
    # An admin may send a failed upload round again.
    UploadStatus.FAILED: {UploadStatus.UPLOADED},
    UploadStatus.COMPLETED: set(),
    UploadStatus.QUARANTINED: set(),
}


class QuotaExceeded(Exception):
    pass


def _storage():
    return storages["private"]


def storage_name(upload: FileUpload) -> str:
    return f"uploads/{upload.pk.hex[:2]}/{upload.pk.hex}"


def quarantine_name(upload: FileUpload) -> str:
    return f"quarantine/{upload.pk.hex}"


def details_name(upload: FileUpload) -> str:
    return f"analysis/{upload.pk.hex[:2]}/{upload.pk.hex}.json"


@transaction.atomic
def upload_transition(*, upload: FileUpload, to: str, actor=None, **fields) -> FileUpload:
    if to not in TRANSITIONS[UploadStatus(upload.status)]:
        raise ValueError(f"An upload cannot go from {upload.status} to {to}.")
    previous = upload.status
    upload.status = to
    for name, value in fields.items():
        setattr(upload, name, value)
    upload.save(update_fields=["status", *fields, "updated_at"])
    audit_record(actor=actor, action=f"upload.{to}", entity=upload, changes={"status": [previous, to]})
    return upload


def upload_quota_check(*, user, size: int) -> None:
    used = FileUpload.objects.filter(user=user).aggregate(files=Count("id"), bytes=Sum("size"))
    files, used_bytes = used["files"], used["bytes"] or 0
    if files >= settings.UPLOAD_QUOTA_FILES:
        raise QuotaExceeded(
            f"You have {files:,} files uploaded, the most allowed: delete some before uploading more."
        )
    if used_bytes + size > settings.UPLOAD_QUOTA_BYTES:
        raise QuotaExceeded(
            f"This file would take your uploads to {used_bytes + size:,} bytes, over your "
            f"{settings.UPLOAD_QUOTA_BYTES:,}-byte quota: delete some files first."
        )


def upload_receive(*, user, temporary_path: str, filename: str, size: int, sha256: str) -> FileUpload:
    """
    Takes a file the request streamed to a temporary path: checks the quota and the content, then
    records it and stores it. A refusal leaves no row and no file behind.
    """
    sniffed = sniff(temporary_path, filename)
    stored = None
    try:
        with transaction.atomic():
            # One intake per user at a time, so two uploads at once cannot both fit a quota meant for one.
            # The user model by name, never type(user): a session's request.user is a SimpleLazyObject.
            get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
            upload_quota_check(user=user, size=size)
            upload = FileUpload.objects.create(
                user=user,
                filename=sanitize_filename(filename),
                size=size,
                mime_type=sniffed.mime_type,
                sha256=sha256,
                status=UploadStatus.PENDING,
            )
            audit_record(actor=user, action="upload.pending", entity=upload, changes={"kind": sniffed.kind})
            upload_transition(upload=upload, to=UploadStatus.UPLOADING, actor=user)
            with open(temporary_path, "rb") as handle:
                stored = _storage().save(storage_name(upload), handle)
            upload_transition(upload=upload, to=UploadStatus.UPLOADED, actor=user, storage_path=stored)
            transaction.on_commit(lambda: upload_enqueue(upload.pk))
    except Exception:
        if stored:
            _storage().delete(stored)
        raise
    return upload


def upload_enqueue(upload_id) -> bool:
    """Queues processing; a broker that is down (or an eager run that failed) is logged, not raised."""
    try:
        task_delay("uploads.tasks.upload_process", str(upload_id))
    except Exception as error:  # noqa: BLE001 - the upload is stored either way; the log says why
        logger.warning("Upload %s stored but its processing did not run: %s", upload_id, error)
        return False
    return True


# Where an upload waits for its task. `pending` and `uploading` are not here: intake moves a row through
# them to `uploaded` in one transaction, so no other process ever sees a row in either.
AWAITING_TASK = (UploadStatus.UPLOADED, UploadStatus.PROCESSING)


def upload_requeue_stale(*, older_than: timedelta | None = None, batch_size: int = 500) -> int:
    """
    Queues again the uploads left `uploaded` or `processing` for longer than UPLOAD_STALE_AFTER: their
    task was lost (the database was down through its retries, the whole worker crashed). A live task
    cannot keep one there that long (see the check on UPLOAD_STALE_AFTER), and a rerun is harmless anyway
    (one analysis). Returns how many were queued; stops at the first broker error.
    """
    if older_than is None:
        older_than = timedelta(seconds=settings.UPLOAD_STALE_AFTER)
    cutoff = timezone.now() - older_than
    stale = list(
        FileUpload.objects.filter(status__in=AWAITING_TASK, updated_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:batch_size]
    )
    queued = 0
    for pk in stale:
        if not upload_enqueue(pk):
            break
        queued += 1
        # Touched, so the next sweep leaves it alone while this copy waits in the queue; not if a worker
        # (or an eager run) has moved it on meanwhile.
        FileUpload.objects.filter(pk=pk, status__in=AWAITING_TASK, updated_at__lt=cutoff).update(
            updated_at=timezone.now()
        )
    if stale:
        logger.warning("Queued %d of %d stale uploads again", queued, len(stale))
    return queued


@contextmanager
def local_copy(name: str):
    """A local path for a stored file: the file itself on disk storage, a temporary copy otherwise."""
    storage = _storage()
    try:
        yield storage.path(name)
        return
    except NotImplementedError:
        pass
    with storage.open(name, "rb") as source, tempfile.NamedTemporaryFile(suffix=".upload") as copy:
        shutil.copyfileobj(source, copy)
        copy.flush()
        yield copy.name


def upload_process(*, upload: FileUpload) -> FileUpload:
    """
    Scans, then analyses. Idempotent: a finished upload is left alone, and a run after a crash does
    the work again and still ends with exactly one analysis. ScannerUnavailable and database errors
    propagate for the task to retry; anything the file itself causes ends in `failed` with a reason.
    """
    with transaction.atomic():
        upload = FileUpload.objects.select_for_update().get(pk=upload.pk)
        if upload.status in (UploadStatus.COMPLETED, UploadStatus.QUARANTINED, UploadStatus.FAILED):
            return upload
        upload_transition(upload=upload, to=UploadStatus.PROCESSING)

    with local_copy(upload.storage_path) as path:
        try:
            result = scan_file(path)
        except ScanRefused as refusal:
            # The scanner would not look at it (e.g. over its size limit): never treated as clean.
            return upload_fail(upload=upload, reason=f"The file could not be scanned for viruses: {refusal}")
        if result.infected:
            return upload_quarantine(
                upload=upload, signature=result.signature or "unknown", engine=result.engine
            )
        try:
            analysis = analyse(path, KIND_OF_MIME[upload.mime_type])
        except AnalysisError as error:
            return upload_fail(upload=upload, reason=str(error))

    details = _storage()
    name = details_name(upload)
    details.delete(name)  # a rerun overwrites, never piles up copies
    stored = details.save(name, ContentFile(json.dumps(analysis.details, default=str).encode()))
    with transaction.atomic():
        FileAnalysis.objects.update_or_create(
            upload=upload, defaults={"summary": analysis.summary, "details_path": stored}
        )
        upload_transition(upload=upload, to=UploadStatus.COMPLETED, processed_at=timezone.now(), error="")
    return upload


@transaction.atomic
def upload_quarantine(*, upload: FileUpload, signature: str, engine: str) -> FileUpload:
    """An infected file leaves the uploads area for the quarantine one and is never analysed."""
    storage = _storage()
    target = quarantine_name(upload)
    with storage.open(upload.storage_path, "rb") as source:
        moved = storage.save(target, source)
    storage.delete(upload.storage_path)
    upload_transition(
        upload=upload,
        to=UploadStatus.QUARANTINED,
        storage_path=moved,
        processed_at=timezone.now(),
        error=f"The file contains malware ({signature}) and was quarantined.",
    )
    audit_record(action="upload.infected", entity=upload, changes={"signature": signature, "engine": engine})
    return upload


@transaction.atomic
def upload_fail(*, upload: FileUpload, reason: str) -> FileUpload:
    upload = FileUpload.objects.select_for_update().get(pk=upload.pk)
    if upload.status in (UploadStatus.COMPLETED, UploadStatus.QUARANTINED, UploadStatus.FAILED):
        return upload
    return upload_transition(
        upload=upload, to=UploadStatus.FAILED, processed_at=timezone.now(), error=reason[:2000]
    )


@transaction.atomic
def upload_reprocess(*, upload: FileUpload, actor) -> FileUpload:
    """A failed upload goes round again (e.g. after a scanner outage outlasted the retries)."""
    upload = upload_transition(upload=upload, to=UploadStatus.UPLOADED, actor=actor, error="")
    transaction.on_commit(lambda: upload_enqueue(upload.pk))
    return upload


@transaction.atomic
def upload_delete(*, upload: FileUpload, actor) -> None:
    """The file, its analysis document and its rows, gone; the audit keeps ids only."""
    names = [upload.storage_path, getattr(getattr(upload, "analysis", None), "details_path", "")]
    audit_record(actor=actor, action="upload.deleted", entity=upload, changes={"size": upload.size})
    upload.delete()
    storage = _storage()
    for name in filter(None, names):
        transaction.on_commit(lambda name=name: storage.delete(name))


@transaction.atomic
def uploads_delete_for_user(*, user, actor) -> int:
    """Every upload of `user`, as upload_delete() would remove them one by one (uploads_delete_for_users)."""
    return uploads_delete_for_users(users=[user], actor=actor).get(user.pk, 0)


@transaction.atomic
def uploads_delete_for_users(*, users, actor) -> dict:
    """
    Every upload of `users` in a constant number of queries whatever their number (erasure and
    anonymisation run it for thousands of users); returns {user id: uploads deleted}.
    """
    rows = list(
        FileUpload.objects.filter(user__in=users).values_list(
            "pk", "user_id", "size", "storage_path", "analysis__details_path"
        )
    )
    if not rows:
        return {}
    audit_record_many(
        [
            {
                "action": "upload.deleted",
                "entity_type": FileUpload._meta.label_lower,
                "entity_id": str(pk),
                "actor_id": getattr(actor, "pk", None),
                "changes": {"size": size},
            }
            for pk, _, size, _, _ in rows
        ]
    )
    FileUpload.objects.filter(pk__in=[pk for pk, *_ in rows]).delete()
    names = [name for _, _, _, *paths in rows for name in paths if name]
    transaction.on_commit(lambda: _files_delete(names))
    counts = {}
    for _, user_id, *_ in rows:
        counts[user_id] = counts.get(user_id, 0) + 1
    return counts


def _files_delete(names: list[str]) -> None:
    # After commit the rows are gone whatever happens here: one file that cannot be removed must not
    # keep the others, so each failure is logged and the loop goes on.
    storage = _storage()
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            logger.exception("Stored file %s of a deleted upload could not be removed", name)
