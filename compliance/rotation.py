"""
Key rotation for the encrypted fields and the e-mail blind index, in batches that an interrupted run
resumes from (runbook: docs/compliance.md, "Key rotation").
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import models, transaction
from django.db.models import BinaryField, Case, Value, When
from django.db.models.functions import Cast
from django.utils import timezone
from django_cryptography.core.signing import BadSignature
from django_cryptography.utils.crypto import InvalidToken

from audit.services import audit_record
from common.caching import content_version_bump
from common.crypto import email_blind_index
from common.encryption import key_fingerprint, keyring
from common.fields import encrypted_fields
from submissions.models import FormSubmission

from .models import KeyRotation, KeyRotationKind

BLIND_INDEX_FIELD = "submissions.formsubmission.email_hash"


class RotationError(Exception):
    """A row the rotation cannot handle; the batch it was in was rolled back."""


@dataclass(frozen=True)
class BatchDone:
    """One committed batch, as reported to the `progress` callback."""

    field: str
    rows: int
    rewritten: int
    already_current: int
    last_pk: str


@dataclass(frozen=True)
class PendingCount:
    """What a dry run found for one field."""

    field: str
    rows: int
    pending: int
    unreadable: int
    first_unreadable_pk: str | None


Progress = Callable[[BatchDone], None] | None


def field_label(model: type[models.Model], field: models.Field) -> str:
    return f"{model._meta.label_lower}.{field.name}"


def _empty_counts() -> dict:
    return {"rows": 0, "rewritten": 0, "already_current": 0}


def _raw_values(model: type[models.Model], field: models.Field):
    """The column's ciphertext as stored: the cast keeps the field from decrypting it on the way out."""
    return (
        model._base_manager.filter(**{f"{field.attname}__isnull": False})
        .order_by("pk")
        .annotate(_raw=Cast(field.attname, output_field=BinaryField()))
        .values_list("pk", "_raw")
    )


def _unreadable_message(model: type[models.Model], field: models.Field, pk) -> str:
    return (
        f"{model._meta.label} {pk}: {field.name} opens with neither FIELD_ENCRYPTION_KEY nor any of "
        "FIELD_ENCRYPTION_OLD_KEYS (values written before the keyring also need the SECRET_KEY they were "
        "signed with, in DJANGO_SECRET_KEY or DJANGO_SECRET_KEY_FALLBACKS). Add the key it was written "
        "with to FIELD_ENCRYPTION_OLD_KEYS and run again: nothing of this batch was written, and the "
        "run resumes after the last finished batch."
    )


# --- the shared frame ---------------------------------------------------------------------------------


def _rotation_open(*, kind: str, target: str, restart: bool, actor) -> KeyRotation:
    with transaction.atomic():
        rotation, created = KeyRotation.objects.get_or_create(kind=kind, target=target)
        if created:
            audit_record(
                action="key.rotation_started",
                entity=rotation,
                actor=actor,
                changes={"kind": kind, "fingerprint": target},
            )
        elif restart and rotation.finished_at is not None:
            rotation = KeyRotation.objects.select_for_update().get(pk=rotation.pk)
            rotation.progress, rotation.counts, rotation.finished_at = {}, {}, None
            rotation.save(update_fields=["progress", "counts", "finished_at", "updated_at"])
            audit_record(
                action="key.rotation_restarted",
                entity=rotation,
                actor=actor,
                changes={"kind": kind, "fingerprint": target},
            )
    return rotation


def _rotation_finish(*, rotation_pk, labels: Iterable[str], actor) -> KeyRotation:
    with transaction.atomic():
        rotation = KeyRotation.objects.select_for_update().get(pk=rotation_pk)
        if rotation.finished_at is None:
            counts = {label: rotation.counts.get(label, _empty_counts()) for label in labels}
            rotation.counts = counts
            rotation.finished_at = timezone.now()
            rotation.save(update_fields=["counts", "finished_at", "updated_at"])
            audit_record(
                action="key.rotation_finished",
                entity=rotation,
                actor=actor,
                # A list, not a dict keyed by field: the audit log drops keys that look like PII
                # ("...formsubmission.data"), and these are only counts.
                changes={
                    "kind": rotation.kind,
                    "fingerprint": rotation.target,
                    "fields": [{"field": label, **c} for label, c in counts.items()],
                },
            )
            # Every bulk path retires the public cache, as a rule with no exceptions to reason about:
            # a rotation changes no plaintext today, but a rare cache refill is cheaper than being wrong.
            transaction.on_commit(content_version_bump)
    return rotation


def _record_batch(rotation: KeyRotation, label: str, last_pk, rows: int, rewritten: int) -> BatchDone:
    counts = dict(rotation.counts.get(label, _empty_counts()))
    counts["rows"] += rows
    counts["rewritten"] += rewritten
    counts["already_current"] += rows - rewritten
    rotation.counts = {**rotation.counts, label: counts}
    rotation.progress = {**rotation.progress, label: str(last_pk)}
    rotation.save(update_fields=["progress", "counts", "updated_at"])
    return BatchDone(
        field=label, rows=rows, rewritten=rewritten, already_current=rows - rewritten, last_pk=str(last_pk)
    )


# --- field encryption key -----------------------------------------------------------------------------


def field_key_rotate(
    *, batch_size: int = 500, progress: Progress = None, actor=None, restart: bool = False
) -> KeyRotation:
    """
    Rewrites every encrypted value not yet under FIELD_ENCRYPTION_KEY with it. A value can only be read
    while its key is in FIELD_ENCRYPTION_OLD_KEYS (and, for values from before the keyring, its signing
    key is SECRET_KEY or one of SECRET_KEY_FALLBACKS). `restart` runs a finished rotation again, e.g.
    after a restore brought back rows written under an old key.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be 1 or more")
    target = key_fingerprint(keyring.current_raw_key())
    rotation = _rotation_open(kind=KeyRotationKind.FIELD_KEY, target=target, restart=restart, actor=actor)
    if rotation.finished_at is not None:
        return rotation
    fields = encrypted_fields()
    for model, field in fields:
        while (done := _field_key_batch(rotation.pk, model, field, batch_size)) is not None:
            if progress:
                progress(done)
    return _rotation_finish(
        rotation_pk=rotation.pk, labels=[field_label(m, f) for m, f in fields], actor=actor
    )


def _field_key_batch(rotation_pk, model, field, batch_size: int) -> BatchDone | None:
    label = field_label(model, field)
    with transaction.atomic():
        rotation = KeyRotation.objects.select_for_update().get(pk=rotation_pk)
        if rotation.finished_at is not None:
            return None
        rows = _raw_values(model, field).select_for_update()
        if label in rotation.progress:
            rows = rows.filter(pk__gt=rotation.progress[label])
        rows = list(rows[:batch_size])
        if not rows:
            return None
        rewrites = {}
        for pk, raw in rows:
            raw = bytes(raw)
            if keyring.is_current(raw):
                continue
            try:
                rewrites[pk] = keyring.reencrypt(raw)
            except (BadSignature, InvalidToken) as err:
                raise RotationError(_unreadable_message(model, field, pk)) from err
        if rewrites:
            # Written as bytes, past the field, which would encrypt them again; update() leaves
            # updated_at alone, since no one changed the data.
            model._base_manager.filter(pk__in=list(rewrites)).update(
                **{
                    field.attname: Case(
                        *(
                            When(pk=pk, then=Value(token, output_field=BinaryField()))
                            for pk, token in rewrites.items()
                        ),
                        output_field=BinaryField(),
                    )
                }
            )
        return _record_batch(rotation, label, rows[-1][0], rows=len(rows), rewritten=len(rewrites))


def field_key_pending(*, batch_size: int = 500) -> list[PendingCount]:
    """
    Read only (the dry run): per encrypted field, how many values are not yet under
    FIELD_ENCRYPTION_KEY, and how many of those no configured key opens.
    """
    found = []
    for model, field in encrypted_fields():
        rows = pending = unreadable = 0
        first_unreadable = None
        last = None
        while True:
            qs = _raw_values(model, field)
            if last is not None:
                qs = qs.filter(pk__gt=last)
            batch = list(qs[:batch_size])
            if not batch:
                break
            for pk, raw in batch:
                raw = bytes(raw)
                rows += 1
                if keyring.is_current(raw):
                    continue
                pending += 1
                try:
                    keyring.decrypt(raw)
                except (BadSignature, InvalidToken):
                    unreadable += 1
                    first_unreadable = first_unreadable or str(pk)
            last = batch[-1][0]
        found.append(PendingCount(field_label(model, field), rows, pending, unreadable, first_unreadable))
    return found


# --- blind index --------------------------------------------------------------------------------------


def blind_index_recompute(
    *, batch_size: int = 500, progress: Progress = None, actor=None, restart: bool = False
) -> KeyRotation:
    """
    Recomputes FormSubmission.email_hash under the current BLIND_INDEX_KEY from the e-mail in the
    submission's (decrypted) data. Until it finishes, rows not yet done are not found by e-mail.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be 1 or more")
    if not settings.BLIND_INDEX_KEY:
        raise RotationError("BLIND_INDEX_KEY is not set.")
    target = key_fingerprint(settings.BLIND_INDEX_KEY)
    rotation = _rotation_open(kind=KeyRotationKind.BLIND_INDEX, target=target, restart=restart, actor=actor)
    if rotation.finished_at is not None:
        return rotation
    while (done := _blind_index_batch(rotation.pk, batch_size)) is not None:
        if progress:
            progress(done)
    return _rotation_finish(rotation_pk=rotation.pk, labels=[BLIND_INDEX_FIELD], actor=actor)


def _blind_index_batch(rotation_pk, batch_size: int) -> BatchDone | None:
    with transaction.atomic():
        rotation = KeyRotation.objects.select_for_update().get(pk=rotation_pk)
        if rotation.finished_at is not None:
            return None
        qs = FormSubmission._base_manager.order_by("pk").only("pk", "data", "email_hash").select_for_update()
        if BLIND_INDEX_FIELD in rotation.progress:
            qs = qs.filter(pk__gt=rotation.progress[BLIND_INDEX_FIELD])
        try:
            rows = list(qs[:batch_size])
        except (BadSignature, InvalidToken) as err:
            raise RotationError(
                "A submission in the next batch cannot be decrypted (data opens with no configured field "
                "key): run `manage.py rotate_encryption_key --dry-run` to find it, add its key to "
                "FIELD_ENCRYPTION_OLD_KEYS and run again. Nothing of this batch was written."
            ) from err
        if not rows:
            return None
        changed = []
        for row in rows:
            email = row.data.get("email", "") if isinstance(row.data, dict) else ""
            if not email and not row.email_hash:
                # Cleared on purpose (anonymisation): an index of "" would only make it findable again.
                continue
            email_hash = email_blind_index(email)
            if row.email_hash != email_hash:
                row.email_hash = email_hash
                changed.append(row)
        if changed:
            # bulk_update writes email_hash alone: updated_at stays, the data did not change.
            FormSubmission._base_manager.bulk_update(changed, ["email_hash"])
        return _record_batch(rotation, BLIND_INDEX_FIELD, rows[-1].pk, rows=len(rows), rewritten=len(changed))
