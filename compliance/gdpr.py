"""
GDPR writes: export (art. 15/20), erasure (art. 17), anonymisation (retention), and the replay of
erasures after a database restore.

A restore brings the database back as it was when the backup was taken, ErasureRecords included, so an
erasure made after that backup would silently come undone. Every erasure is therefore also appended,
after commit and fsync'ed, to a journal file outside the database (ERASURE_JOURNAL_PATH), which
`erasures_replay` reads to apply the lost erasures again. The journal and the audit log hold ids and
blind-index hashes only, never an address.
"""

import fcntl
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from knox.models import get_token_model

from accounts.models import Role, User
from accounts.selectors import user_by_email
from accounts.services import password_confirmed
from audit.services import audit_record
from common.caching import content_version_bump
from common.crypto import email_blind_index
from submissions.models import FormSubmission
from uploads.services import uploads_delete_for_user

from . import selectors
from .models import ErasureReason, ErasureRecord

logger = logging.getLogger(__name__)

# What an anonymised submission keeps: the row (form type, status, services, dates) still counts in
# the statistics, but nothing in it points to a person any more.
ANONYMIZED_DATA = {"anonymized": True}
WRONG_PASSWORD = "The password is not correct."


class GdprRefused(ValidationError):
    """An export, erasure or anonymisation the rules do not allow; the message says why."""


class LegalHoldRefused(GdprRefused):
    def __init__(self, user: User):
        super().__init__(
            f"User {user.pk} is on legal hold: their data must be kept until the hold is lifted.",
            code="legal_hold",
        )


class LastAdminRefused(GdprRefused):
    def __init__(self, user: User):
        super().__init__(
            f"User {user.pk} is the last active admin: make another user admin first.", code="last_admin"
        )


def anonymized_email(user: User) -> str:
    # .invalid is reserved (RFC 2606): the address can never reach anyone, and stays unique per user.
    return f"anonymized_{user.pk.hex}@invalid"


def _admin_log_scrub(user: User, label: str) -> None:
    # Django's admin history names the user by str(user), their address: the history stays, the name goes.
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)
    ).update(object_repr=f"{label} user {user.pk}")


# --- Export ------------------------------------------------------------------------------------------


@transaction.atomic
def user_export(*, user: User, actor: User | None = None) -> dict:
    """The personal data held about `user` as one JSON-serialisable document; the export is audited."""
    document = selectors.user_export_document(user=user)
    audit_record(
        action="data.exported",
        entity=user,
        actor=actor,
        changes={
            "submissions": len(document["submissions"]),
            "uploads": len(document["uploads"]),
            "audit_events": len(document["audit_events"]),
        },
    )
    return document


# --- Anonymisation -----------------------------------------------------------------------------------


@transaction.atomic
def user_anonymize(*, user: User, actor: User | None = None, reason: str = "retention") -> User:
    """
    Keeps the account row (ids, role, dates: the history still adds up) and removes everything that
    identifies the person: profile, log-in, tokens, uploads with their files, and the personal data of
    their submissions, found by account and by the blind index of the address before it is scrubbed.

    A constant number of queries whatever the user holds: the retention job runs it for thousands of
    users. Already anonymised: nothing happens. On legal hold: LegalHoldRefused.
    """
    # The stored row, locked, decides: the caller's object may be stale (two runs at once, an old list).
    stored = (
        User.objects.select_for_update()
        .filter(pk=user.pk)
        .values("email", "anonymized_at", "legal_hold", "email_verified_at")
        .first()
    )
    if stored is None:
        raise User.DoesNotExist(f"User {user.pk} does not exist.")
    if stored["anonymized_at"] is not None:
        user.refresh_from_db()
        return user
    if stored["legal_hold"]:
        raise LegalHoldRefused(user)

    now = timezone.now()
    email_hash = email_blind_index(stored["email"])
    # Visitor forms follow only a verified address (selectors.user_submissions), as stored now.
    user.email_verified_at = stored["email_verified_at"]
    # update() rather than a loop: one statement for any number of rows. `error` may quote the
    # address (a mail server's refusal), so it goes too; so does the Idempotency-Key, whose scope
    # hashes the client address and whose fingerprint the body (a null key frees its unique slot).
    submissions = selectors.user_submissions(user=user, email_hash=email_hash).update(
        data=ANONYMIZED_DATA,
        email_hash="",
        error="",
        idempotency_key=None,
        idempotency_scope="",
        idempotency_fingerprint="",
        updated_at=now,
    )
    uploads = uploads_delete_for_user(user=user, actor=actor)
    tokens, _ = get_token_model().objects.filter(user=user).delete()
    _admin_log_scrub(user, "anonymised")

    user.email = anonymized_email(user)
    user.name = user.company = user.phone = ""
    user.country = ""
    user.set_unusable_password()
    user.is_active = False
    user.anonymized_at = now
    # No full_clean(): the .invalid address is deliberately not one EmailValidator accepts, and the
    # uniqueness checks would cost queries per user for an address that is unique by construction.
    user.save(
        update_fields=[
            "email",
            "name",
            "company",
            "phone",
            "country",
            "password",
            "is_active",
            "anonymized_at",
            "updated_at",
        ]
    )
    audit_record(
        action="user.anonymized",
        entity=user,
        actor=actor,
        changes={"reason": reason, "submissions": submissions, "uploads": uploads, "logins_revoked": tokens},
    )
    return user


# --- Erasure -----------------------------------------------------------------------------------------


def _refuse_last_admin(user: User) -> None:
    if user.role != Role.ADMIN or not user.is_active:
        return
    # Locking every active admin serialises two admins erasing each other at the same moment.
    admins = User.objects.select_for_update().filter(role=Role.ADMIN, is_active=True)
    if not any(pk != user.pk for pk in admins.values_list("pk", flat=True)):
        raise LastAdminRefused(user)


def _erase(
    *,
    user: User,
    actor: User | None,
    submissions_before: datetime | None = None,
) -> dict:
    """
    Deletes what is the user's (not the user row: the caller does, after its audit row) in the caller's
    transaction, and returns the counts.
    """
    email_hash = email_blind_index(user.email)
    submissions = selectors.user_submissions(user=user, email_hash=email_hash)
    if submissions_before is not None:
        # A replay: visitor forms sent with the address after the erasure are a new person's consent.
        submissions = submissions.filter(Q(user=user) | Q(created_at__lte=submissions_before))
    _, deleted = submissions.delete()
    counts = {
        "submissions": deleted.get(FormSubmission._meta.label, 0),
        "uploads": uploads_delete_for_user(user=user, actor=actor),
        "logins_revoked": get_token_model().objects.filter(user=user).delete()[0],
    }
    _admin_log_scrub(user, "erased")
    return counts


@transaction.atomic
def user_erase(*, user: User, actor: User | None = None, reason: str) -> ErasureRecord:
    """
    Deletes the user with their submissions (by account and by the blind index of their address),
    uploads and files, tokens and the account row; keeps an ErasureRecord, an audit row and a journal
    line (after commit), ids and hashes only. Refused for a user on legal hold and for the last active
    admin. The stored files go after commit: a rollback leaves everything as it was.
    """
    if reason not in ErasureReason.values:
        raise ValueError(f"Unknown erasure reason: {reason!r}")
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.legal_hold:
        raise LegalHoldRefused(user)
    _refuse_last_admin(user)

    record = ErasureRecord(
        user_id=user.pk,
        # The replay deletes visitor forms by this hash: only an address the user proved is theirs.
        email_hash=email_blind_index(user.email) if user.email_verified_at else "",
        reason=reason,
        actor_id=getattr(actor, "pk", None),
    )
    counts = _erase(user=user, actor=actor)
    record.full_clean()
    record.save(force_insert=True)
    audit_record(
        action="user.erased",
        entity=user,
        actor=actor,
        changes={"reason": reason, "record": str(record.pk), **counts},
    )
    user.delete()
    transaction.on_commit(lambda: _journal_append_safely([journal_entry(record)]))
    # Nothing public shows a user today; the bump makes sure no cached page could outlive the erasure.
    transaction.on_commit(content_version_bump)
    return record


def user_erase_self(*, user: User, password: str, ip: str) -> ErasureRecord:
    """
    The user's own erasure request: only with their password, so a stolen token alone cannot. The
    password check counts towards the log-in lockouts (accounts.services.password_confirmed), which
    raises LoginLocked once they are reached.
    """
    if not password_confirmed(user=user, password=password, ip=ip):
        raise ValidationError({"password": [WRONG_PASSWORD]}, code="wrong_password")
    return user_erase(user=user, actor=user, reason=ErasureReason.SELF_SERVICE)


class AccountExistsRefused(GdprRefused):
    def __init__(self):
        super().__init__(
            "This address has an account: erase the account (Users, 'Erase selected users') instead.",
            code="account_exists",
        )


@transaction.atomic
def visitor_data_erase(*, email: str, actor: User) -> ErasureRecord:
    """
    An admin's erasure, on a request they have checked, of the forms an address without an account
    sent as a visitor. Kept like an account's erasure: an ErasureRecord (no user id), an audit row and a
    journal line with the blind index only, never the address, so a restore replays it. An address
    with an account is refused: its erasure is the account's (user_erase).
    """
    if user_by_email(email=email) is not None:
        raise AccountExistsRefused()
    email_hash = email_blind_index(email)
    record = ErasureRecord(
        user_id=None, email_hash=email_hash, reason=ErasureReason.VISITOR, actor_id=actor.pk
    )
    record.full_clean()
    _, deleted = selectors.visitor_submissions(email_hash=email_hash).delete()
    record.save(force_insert=True)
    audit_record(
        action="visitor.erased",
        entity=record,
        actor=actor,
        changes={"submissions": deleted.get(FormSubmission._meta.label, 0)},
    )
    transaction.on_commit(lambda: _journal_append_safely([journal_entry(record)]))
    return record


# --- The journal -------------------------------------------------------------------------------------


def journal_path() -> Path:
    return Path(settings.ERASURE_JOURNAL_PATH)


def journal_entry(record: ErasureRecord) -> dict:
    return {
        "record_id": str(record.pk),
        "user_id": str(record.user_id) if record.user_id else None,
        "email_hash": record.email_hash,
        "erased_at": record.erased_at.isoformat(),
        "reason": record.reason,
        "actor_id": str(record.actor_id) if record.actor_id else None,
    }


def journal_append(entries: list[dict]) -> None:
    """Appends one line per entry and waits until they are on disk."""
    if not entries:
        return
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    data = "".join(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n" for entry in entries)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        # Whole lines only, even with two processes erasing at once.
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data.encode())
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        # A new file survives a crash only once its directory entry is on disk too.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _journal_append_safely(entries: list[dict]) -> None:
    # After commit the erasure has happened whatever this does; a failure must be loud, not a 500.
    # The ErasureRecord rows are still there, and the next replay writes the missing lines.
    try:
        journal_append(entries)
    except OSError:
        logger.exception(
            "Erasure(s) %s committed but not written to the journal %s: run replay_erasures to repair it",
            ", ".join(entry["record_id"] for entry in entries),
            journal_path(),
        )


@dataclass
class JournalRead:
    entries: list[dict] = field(default_factory=list)
    unreadable: int = 0


def journal_read() -> JournalRead:
    """Every entry of the journal. A torn line (a crash in mid-write) is counted, not fatal."""
    result = JournalRead()
    try:
        handle = journal_path().open(encoding="utf-8")
    except FileNotFoundError:
        return result
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                entry["erased_at"] = datetime.fromisoformat(entry["erased_at"])
                entry["record_id"] = str(entry["record_id"])
                # None: a visitor's forms were erased (visitor_data_erase), no account.
                entry["user_id"] = str(entry["user_id"]) if entry["user_id"] else None
            except (ValueError, KeyError, TypeError):
                logger.warning("Erasure journal %s: line %d is not readable", journal_path(), number)
                result.unreadable += 1
                continue
            result.entries.append(entry)
    return result


# --- Replay after a restore --------------------------------------------------------------------------


def erasures_replay(*, since: datetime, progress=None) -> dict:
    """
    Applies again every erasure made at or after `since`, from the journal and the ErasureRecord table
    together: the user row, if a restore brought it back, is erased again (legal hold or not: the
    erasure happened; held users are reported), visitor submissions made with the address up to the
    erasure are deleted, a missing ErasureRecord is put back with its original id, and a missing
    journal line is written. A second run finds nothing to do and changes nothing.
    `progress(done, total)` is called after each erasure.
    """
    if timezone.is_naive(since):
        since = timezone.make_aware(since, timezone.get_default_timezone())
    read = journal_read()
    journaled = {entry["record_id"] for entry in read.entries}
    entries = {entry["record_id"]: entry for entry in read.entries if entry["erased_at"] >= since}
    for record in ErasureRecord.objects.filter(erased_at__gte=since):
        entries.setdefault(str(record.pk), {**journal_entry(record), "erased_at": record.erased_at})
    # By id, whatever their time: a record is there or not, and is never inserted twice.
    records = {str(record.pk): record for record in ErasureRecord.objects.filter(pk__in=list(entries))}

    rows = []
    missing_lines = []
    with transaction.atomic():
        for entry in sorted(entries.values(), key=lambda e: (e["erased_at"], e["record_id"])):
            row = {
                "record_id": entry["record_id"],
                "user_id": entry["user_id"],
                "erased_at": entry["erased_at"],
                "user_erased": False,
                "legal_hold": False,
                "submissions": 0,
                "uploads": 0,
                "record_restored": False,
                "journal_repaired": False,
            }
            user = entry["user_id"] and User.objects.select_for_update().filter(pk=entry["user_id"]).first()
            if user:
                if user.legal_hold:
                    logger.warning("Replaying the erasure of user %s, who is on legal hold", user.pk)
                    row["legal_hold"] = True
                counts = _erase(user=user, actor=None, submissions_before=entry["erased_at"])
                user.delete()
                row.update(user_erased=True, submissions=counts["submissions"], uploads=counts["uploads"])
            if entry["email_hash"]:
                visitor_forms = FormSubmission.objects.filter(
                    email_hash=entry["email_hash"], created_at__lte=entry["erased_at"]
                )
                if not entry["user_id"]:
                    # A visitor erasure took the forms sent without an account only, as it did then.
                    visitor_forms = visitor_forms.filter(user__isnull=True)
                _, deleted = visitor_forms.delete()
                row["submissions"] += deleted.get(FormSubmission._meta.label, 0)
            if entry["record_id"] not in records:
                record = ErasureRecord(
                    id=entry["record_id"],
                    user_id=entry["user_id"],
                    email_hash=entry["email_hash"],
                    erased_at=entry["erased_at"],
                    reason=entry["reason"],
                    actor_id=entry.get("actor_id") or None,
                    created_at=entry["erased_at"],
                )
                record.full_clean(validate_unique=False)
                record.save(force_insert=True)
                records[entry["record_id"]] = record
                row["record_restored"] = True
            if entry["record_id"] not in journaled:
                missing_lines.append(journal_entry(records[entry["record_id"]]))
                row["journal_repaired"] = True
            rows.append(row)
            if progress is not None:
                progress(len(rows), len(entries))

        totals = {
            "erasures": len(rows),
            "users_erased": sum(row["user_erased"] for row in rows),
            "submissions_deleted": sum(row["submissions"] for row in rows),
            "uploads_deleted": sum(row["uploads"] for row in rows),
            "records_restored": sum(row["record_restored"] for row in rows),
            "journal_repaired": sum(row["journal_repaired"] for row in rows),
            "held_users": sum(row["legal_hold"] for row in rows),
        }
        changed = any(totals[name] for name in totals if name != "erasures")
        if changed:
            audit_record(
                action="erasure.replayed",
                entity_type=ErasureRecord._meta.label_lower,
                changes={"since": since.isoformat(), **totals},
            )
            transaction.on_commit(lambda: _journal_append_safely(missing_lines))
            transaction.on_commit(content_version_bump)
    return {
        "since": since,
        "changed": changed,
        "unreadable_lines": read.unreadable,
        **totals,
        "rows": rows,
    }
