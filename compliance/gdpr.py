"""
GDPR writes: export (art. 15/20), erasure (art. 17) and anonymisation (retention). Every erasure is
also written to the journal (compliance.journal), so that a restore cannot undo it (compliance.replay).
"""

import logging
from datetime import datetime

from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat, Replace
from django.utils import timezone
from knox.models import get_token_model

from accounts.models import Role, User
from accounts.selectors import user_by_email
from accounts.services import password_confirmed
from audit.services import audit_record, audit_record_many
from common.caching import content_version_bump
from common.crypto import email_blind_index
from submissions.models import FormSubmission
from uploads.services import uploads_delete_for_user, uploads_delete_for_users

from . import selectors
from .journal import journal_append_safely, journal_entry
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


def user_anonymize(*, user: User, actor: User | None = None, reason: str = "retention") -> User:
    """
    Keeps the account row (ids, role, dates: the history still adds up) and removes everything that
    identifies the person (users_anonymize). Already anonymised: nothing happens. On legal hold:
    LegalHoldRefused.
    """
    if users_anonymize(users=[user], actor=actor, reason=reason) == 0:
        # The stored row, locked by users_anonymize, decided: the caller's object may be stale.
        stored = User.objects.filter(pk=user.pk).values("anonymized_at", "legal_hold").first()
        if stored is None:
            raise User.DoesNotExist(f"User {user.pk} does not exist.")
        if stored["anonymized_at"] is None and stored["legal_hold"]:
            raise LegalHoldRefused(user)
    user.refresh_from_db()
    return user


@transaction.atomic
def users_anonymize(*, users, actor: User | None = None, reason: str = "retention") -> int:
    """
    Anonymises `users` set-based: a constant number of statements for the whole batch, since retention
    runs it for hundreds of thousands. Their profile, log-in, tokens, uploads with their files and the
    personal data of their submissions go (found by account, and by the blind index of a verified
    address before it is scrubbed). Users already anonymised or on legal hold, as stored now (rows
    locked), are left alone. Returns how many were anonymised.
    """
    stored = list(
        User.objects.select_for_update()
        .filter(pk__in=[user.pk for user in users], anonymized_at__isnull=True, legal_hold=False)
        .values_list("pk", "email", "email_verified_at")
    )
    if not stored:
        return 0
    ids = [pk for pk, _, _ in stored]
    now = timezone.now()
    submissions = _submissions_anonymize(stored, now)
    uploads = uploads_delete_for_users(users=ids, actor=actor)
    tokens = _count_by(get_token_model().objects.filter(user__in=ids).values_list("user_id", flat=True))
    get_token_model().objects.filter(user__in=ids).delete()
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id__in=[str(pk) for pk in ids]
    ).update(object_repr=Concat(Value("anonymised user "), "object_id"))
    # One value for every row of the batch where the per-user one is random: an unusable password and
    # the ciphertext of an empty phone tell nothing about anyone. The address is unique per user (.invalid
    # is reserved, RFC 2606) and deliberately not one EmailValidator accepts, hence update(), no full_clean().
    User.objects.filter(pk__in=ids).update(
        email=Concat(
            Value("anonymized_"), Replace(Cast("id", CharField()), Value("-"), Value("")), Value("@invalid")
        ),
        name="",
        company="",
        phone="",
        country="",
        password=make_password(None),
        is_active=False,
        anonymized_at=now,
        updated_at=now,
    )
    audit_record_many(
        [
            {
                "action": "user.anonymized",
                "entity_type": User._meta.label_lower,
                "entity_id": str(pk),
                "actor_id": getattr(actor, "pk", None),
                "changes": {
                    "reason": reason,
                    "submissions": submissions.get(pk, 0),
                    "uploads": uploads.get(pk, 0),
                    "logins_revoked": tokens.get(pk, 0),
                },
            }
            for pk in ids
        ]
    )
    return len(ids)


def _count_by(keys) -> dict:
    counts = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return counts


def _submissions_anonymize(stored: list[tuple], now) -> dict:
    """
    The personal data of the users' submissions, in one UPDATE; returns {user id: rows}. `error` may
    quote the address (a mail server's refusal), so it goes too; so does the Idempotency-Key, whose scope
    hashes the client address and whose fingerprint the body (a null key frees its unique slot).
    """
    ids = [pk for pk, _, _ in stored]
    # Visitor forms follow only a verified address (selectors.user_submissions), as stored now.
    owner_of_hash = {email_blind_index(email): pk for pk, email, verified_at in stored if verified_at}
    matching = FormSubmission.objects.filter(Q(user__in=ids) | Q(email_hash__in=list(owner_of_hash)))
    rows = list(matching.values_list("user_id", "email_hash"))
    counts = _count_by(
        user_id if user_id in set(ids) else owner_of_hash[email_hash] for user_id, email_hash in rows
    )
    matching.update(
        data=ANONYMIZED_DATA,
        email_hash="",
        error="",
        idempotency_key=None,
        idempotency_scope="",
        idempotency_fingerprint="",
        updated_at=now,
    )
    return counts


# --- Erasure -----------------------------------------------------------------------------------------


def _refuse_last_admin(user: User) -> None:
    if user.role != Role.ADMIN or not user.is_active:
        return
    # Locking every active admin serialises two admins erasing each other at the same moment.
    admins = User.objects.select_for_update().filter(role=Role.ADMIN, is_active=True)
    if not any(pk != user.pk for pk in admins.values_list("pk", flat=True)):
        raise LastAdminRefused(user)


def user_belongings_delete(
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
    counts = user_belongings_delete(user=user, actor=actor)
    record.full_clean()
    record.save(force_insert=True)
    audit_record(
        action="user.erased",
        entity=user,
        actor=actor,
        changes={"reason": reason, "record": str(record.pk), **counts},
    )
    user.delete()
    transaction.on_commit(lambda: journal_append_safely([journal_entry(record)]))
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
    transaction.on_commit(lambda: journal_append_safely([journal_entry(record)]))
    return record
