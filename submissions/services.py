import csv
import io
import logging
import unicodedata
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import partial

import kombu.exceptions
import redis.exceptions
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from common.crypto import email_blind_index
from common.ids import uuid7
from common.tasks import task_delay
from content.models import Service

from . import selectors
from .models import FormSubmission, FormType, MailAttempt, MailKind, SubmissionStatus

logger = logging.getLogger(__name__)

# What a dead or unreachable broker raises from `delay()`: the row is stored, and the sweep queues it
# once the broker is back.
BROKER_ERRORS = (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)


# How each stored field is labelled in the e-mail to sales, in this order.
_MAIL_LABELS = {
    "name": "Name",
    "email": "E-mail",
    "company": "Company",
    "preferred_date": "Preferred date",
    "services": "Services",
    "budget_range": "Budget",
    "timeline": "Timeline",
    "data_volume": "Data volume",
    "message": "Message",
}


def submission_enqueue(submission_id) -> bool:
    """Queues the processing task; a broker that is down is logged, never raised to the visitor."""
    try:
        task_delay("submissions.tasks.submission_process", str(submission_id))
    except BROKER_ERRORS as exc:
        logger.warning(
            "Submission %s stored but not queued (broker unavailable: %s); the sweep will retry.",
            submission_id,
            exc,
        )
        FormSubmission.objects.filter(pk=submission_id, enqueue_failed=False).update(enqueue_failed=True)
        return False
    return True


class IdempotencyKeyReused(Exception):
    """The key was used before, in the same scope, with another request body."""


def submission_replayable(existing: FormSubmission | None, *, fingerprint: str) -> FormSubmission | None:
    """The earlier submission made with a key, if it came with the same body; IdempotencyKeyReused if not."""
    if existing is not None and existing.idempotency_fingerprint != fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was used before with a different request body.")
    return existing


def submission_create(
    *,
    form_type: str,
    data: dict,
    services: Iterable[Service] = (),
    user=None,
    idempotency_key: str | None = None,
    idempotency_scope: str = "",
    idempotency_fingerprint: str = "",
    admit: Callable[[], None] | None = None,
) -> tuple[FormSubmission, bool]:
    """
    Stores one lead form and queues its processing after commit. Returns (submission, created): with
    an `idempotency_key` already used for this form type in this `idempotency_scope` (the client),
    the first submission and False, or IdempotencyKeyReused if that one had another fingerprint.
    `admit` (the API's throttle) runs once the row is inserted and its key claimed, before anything
    else: what it raises rolls the row back. A retry racing its own first request waits at the INSERT
    for that request to commit and gets its replay, without ever reaching `admit`.
    """
    lookup = partial(
        selectors.submission_get_by_idempotency_key,
        form_type=form_type,
        scope=idempotency_scope,
        idempotency_key=idempotency_key,
    )
    with transaction.atomic():
        if idempotency_key:
            existing = submission_replayable(lookup(), fingerprint=idempotency_fingerprint)
            if existing is not None:
                return existing, False
        submission = FormSubmission(
            form_type=form_type,
            data=data,
            email_hash=email_blind_index(data.get("email", "")),
            user=user if getattr(user, "pk", None) else None,
            idempotency_key=idempotency_key or None,
            idempotency_scope=idempotency_scope if idempotency_key else "",
            idempotency_fingerprint=idempotency_fingerprint if idempotency_key else "",
        )
        existing = _submission_insert(submission, lookup=lookup if idempotency_key else None)
        if existing is not None:
            return existing, False
        if admit is not None:
            admit()
        submission.services.set(list(services))
        audit_record(
            action="submission.created",
            entity=submission,
            actor=submission.user,
            changes={"form_type": form_type},
        )
        # robust: whatever goes wrong after commit, the visitor's form is stored and answered. A named
        # function, not a partial: Django logs a robust hook's failure by the hook's __qualname__.
        submission_id = submission.pk

        def enqueue():
            submission_enqueue(submission_id)

        transaction.on_commit(enqueue, robust=True)
    return submission, True


def _submission_insert(submission: FormSubmission, *, lookup) -> FormSubmission | None:
    """
    Inserts the row; with an idempotency key (`lookup` finds its first use), a request that committed
    the same key between the caller's check and this INSERT is returned instead, for a replay.
    """
    # The unique (form_type, scope, key) constraint is left to the database: under a race only the
    # INSERT knows, and its IntegrityError is what the replay relies on.
    submission.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():  # a savepoint: the outer transaction survives a lost race
            submission.save(force_insert=True)
    except IntegrityError:
        existing = (
            None
            if lookup is None
            else submission_replayable(lookup(), fingerprint=submission.idempotency_fingerprint)
        )
        if existing is None:
            raise
        return existing
    return None


def _mail_body(submission: FormSubmission) -> str:
    data = submission.data
    lines = [
        f"A new {submission.get_form_type_display().lower()} came in through the website.",
        "",
        f"Submission: {submission.pk}",
        f"Received: {submission.created_at:%Y-%m-%d %H:%M} UTC",
    ]
    if submission.user_id:
        lines.append(f"Account: {submission.user_id}")
    lines.append("")
    for key, label in _MAIL_LABELS.items():
        value = data.get(key)
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        if key == "message":
            lines.extend(["", f"{label}:", str(value)])
        else:
            lines.append(f"{label}: {value}")
    return "\n".join(lines) + "\n"


def submission_mail_sales(*, submission: FormSubmission) -> None:
    label = FormType(submission.form_type).label
    EmailMessage(
        subject=f"[IndiVillage] New {label.lower()}",  # no PII in subjects: they end up in logs
        body=_mail_body(submission),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[settings.SALES_INBOX],
        reply_to=[submission.data["email"]] if submission.data.get("email") else None,
    ).send(fail_silently=False)


def submission_process(*, submission: FormSubmission) -> FormSubmission:
    """
    submitted -> processing -> e-mail to sales -> completed, the e-mail at most once. Running it again
    on a completed row does nothing. The e-mail is claimed (a MailAttempt row, committed) before it goes
    out and marked sent with `completed`; a failure to send releases the claim, leaves the row
    `processing` with the error noted and re-raises, so the task can retry (`submission_fail` ends it).
    A run that finds an earlier run's claim never confirmed does not send: the message may have left
    before that run lost its database, so the row is failed for a person to check (_mail_unconfirmed).
    """
    token = uuid7().hex
    with transaction.atomic():
        row = FormSubmission.objects.select_for_update().get(pk=submission.pk)
        if row.status == SubmissionStatus.COMPLETED:
            return row
        if row.status != SubmissionStatus.PROCESSING:
            row.status = SubmissionStatus.PROCESSING
            row.save(update_fields=["status", "updated_at"])
        MailAttempt.objects.get_or_create(submission=row, kind=MailKind.SALES, defaults={"token": token})
    # Committed: whatever happens to this process from here, no other run sends this e-mail.

    sent = False
    try:
        # The row stays locked while the mail goes out: a duplicate delivery of the task waits here
        # and then finds the row completed.
        with transaction.atomic():
            row = FormSubmission.objects.select_for_update().get(pk=submission.pk)
            attempt = MailAttempt.objects.filter(submission=row, kind=MailKind.SALES).first()
            if row.status != SubmissionStatus.PROCESSING or attempt is None:
                return row  # ended by another run meanwhile, or its claim released for its own retry
            if attempt.sent_at is None and attempt.token != token:
                return _mail_unconfirmed(row=row, attempt=attempt)
            if attempt.sent_at is None:
                submission_mail_sales(submission=row)
                sent = True
                attempt.sent_at = timezone.now()
                attempt.save(update_fields=["sent_at", "updated_at"])
            row.status = SubmissionStatus.COMPLETED
            row.error = ""
            row.save(update_fields=["status", "error", "updated_at"])
    except Exception as exc:
        try:
            if not sent:
                # Known not to have left, so the retry may send it: the claim is given back.
                MailAttempt.objects.filter(submission_id=submission.pk, token=token, sent_at=None).delete()
            FormSubmission.objects.filter(pk=submission.pk, status=SubmissionStatus.PROCESSING).update(
                error=_describe(exc), updated_at=timezone.now()
            )
        except DatabaseError:
            # The database is away: the claim stays, and the retry sends it to a person, not to sales.
            logger.warning("Submission %s: could not record the failure %r", submission.pk, exc)
        raise
    return row


def _mail_unconfirmed(*, row: FormSubmission, attempt: MailAttempt) -> FormSubmission:
    """
    The one window at-most-once leaves: an earlier run claimed the e-mail and never recorded it sent (its
    database connection went between sending and committing, or its worker died while sending). It may
    have reached sales or not; sending again risks the duplicate this row exists to prevent, so a person
    decides (docs/lead-forms.md, "The e-mail to sales").
    """
    logger.error("Submission %s: e-mail to sales claimed at %s, never confirmed", row.pk, attempt.created_at)
    row.status = SubmissionStatus.FAILED
    row.error = (
        f"The e-mail to sales was claimed at {attempt.created_at:%Y-%m-%d %H:%M:%S} UTC but never confirmed "
        "sent: it may or may not have arrived. Check the sales inbox; if it is there, mark the submission "
        "completed, otherwise use the admin action that e-mails sales again."
    )
    row.save(update_fields=["status", "error", "updated_at"])
    return row


def submission_fail(*, submission: FormSubmission, error: str) -> FormSubmission:
    """Ends a submission that could not be processed; a completed one is left as it is."""
    with transaction.atomic():
        row = FormSubmission.objects.select_for_update().get(pk=submission.pk)
        if row.status == SubmissionStatus.COMPLETED:
            return row
        row.status = SubmissionStatus.FAILED
        row.error = error[:2000]
        row.save(update_fields=["status", "error", "updated_at"])
    return row


def submission_requeue_stale(
    *,
    older_than: timedelta | None = None,
    processing_older_than: timedelta | None = None,
    batch_size: int = 500,
) -> int:
    """
    Queues again the submissions left `submitted` for longer than `older_than` (SUBMISSION_STALE_AFTER:
    a worker or the broker lost the task, or the task's database outage outlasted its retries), at
    once those whose queueing failed
    (the broker was down when they came in), and those left `processing` past
    SUBMISSION_PROCESSING_STALE_AFTER (longer than a live task can hold one: a worker crashed, or the
    database was down when the task tried to record its last failure). A rerun of the latter sends
    nothing twice: an unconfirmed claim sends it to a person. Returns how many were queued; stops at
    the first broker error.
    """
    if older_than is None:
        older_than = timedelta(seconds=settings.SUBMISSION_STALE_AFTER)
    if processing_older_than is None:
        processing_older_than = timedelta(seconds=settings.SUBMISSION_PROCESSING_STALE_AFTER)
    now = timezone.now()
    stale_rows = Q(status=SubmissionStatus.SUBMITTED) & (
        Q(updated_at__lt=now - older_than) | Q(enqueue_failed=True)
    ) | Q(status=SubmissionStatus.PROCESSING, updated_at__lt=now - processing_older_than)
    stale = list(
        FormSubmission.objects.filter(stale_rows)
        .order_by("created_at")
        .values_list("pk", flat=True)[:batch_size]
    )
    queued = 0
    for pk in stale:
        if not submission_enqueue(pk):
            break
        queued += 1
        # Touched, so the next sweep does not queue it again while this copy waits in the queue; not if
        # a worker (or an eager run) has moved it on meanwhile.
        FormSubmission.objects.filter(stale_rows, pk=pk).update(
            updated_at=timezone.now(), enqueue_failed=False
        )
    return queued


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


# --- The admin's reads and writes ------------------------------------------------------------------


def submission_pii_viewed(*, submission: FormSubmission, actor) -> None:
    """Someone looked at the decrypted data: recorded every time, with who and from where."""
    audit_record(
        actor=actor, action="pii.viewed", entity=submission, changes={"form_type": submission.form_type}
    )


@transaction.atomic
def submission_mark_completed(*, submission: FormSubmission, actor) -> FormSubmission:
    if submission.status == SubmissionStatus.COMPLETED:
        return submission
    previous = submission.status
    submission.status = SubmissionStatus.COMPLETED
    submission.error = ""
    submission.save(update_fields=["status", "error", "updated_at"])
    audit_record(
        actor=actor,
        action="submission.completed",
        entity=submission,
        changes={"status": [previous, "completed"]},
    )
    return submission


@transaction.atomic
def submission_mail_resend(*, submission: FormSubmission, actor) -> bool:
    """
    A failed submission goes round again, its e-mail included: the admin's answer, after checking the
    sales inbox, to an e-mail claimed but never confirmed (_mail_unconfirmed). False if not failed.
    """
    row = FormSubmission.objects.select_for_update().get(pk=submission.pk)
    if row.status != SubmissionStatus.FAILED:
        return False
    dropped = MailAttempt.objects.filter(submission=row, sent_at=None).delete()[0]
    audit_record(
        actor=actor, action="submission.mail_resent", entity=row, changes={"unconfirmed_claims": dropped}
    )
    transaction.on_commit(lambda: submission_enqueue(row.pk))
    return True


CSV_COLUMNS = ["id", "created_at", "form_type", "status", "services"]


@transaction.atomic
def submissions_export_csv(*, submissions, actor) -> str:
    """
    The given submissions as CSV, decrypted: one column per field any of them has. Exporting PII is
    audited with the ids exported (never the data).
    """
    rows = list(submissions.prefetch_related("services"))
    keys = sorted({key for row in rows for key in row.data})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS + keys)
    for row in rows:
        services = " ".join(service.slug for service in row.services.all())
        values = [csv_safe_cell(row.data.get(key, "")) for key in keys]
        writer.writerow([row.pk, row.created_at.isoformat(), row.form_type, row.status, services, *values])
    audit_record(
        actor=actor,
        action="submissions.exported",
        entity_type=FormSubmission._meta.label_lower,
        changes={"count": len(rows), "ids": [str(row.pk) for row in rows]},
    )
    return out.getvalue()


# What a spreadsheet starts a formula with, in ASCII and in full width (Excel folds ＝ into =).
_FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")


def csv_safe_cell(value) -> str:
    """
    A visitor's text as a CSV cell that a spreadsheet shows and never runs (CSV injection, OWASP):
    prefixed with an apostrophe when its first visible character starts a formula. What a spreadsheet
    skips or splits on before that character is looked through: whitespace, invisible format
    characters (byte-order mark, zero-width space, joiners) and `;` (a semicolon locale's separator).
    A control character there (tab, CR, NUL, ESC) is neutralised as well. A number typed with a sign
    ("+91 98450 11223", "-5") is neutralised too: the visitor typed text, and the apostrophe keeps it so.
    """
    text = value if isinstance(value, str) else str(value)
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc":
            return "'" + text
        if char.isspace() or category == "Cf" or char == ";":
            continue
        return "'" + text if char in _FORMULA_STARTS else text
    return text


@transaction.atomic
def submissions_bulk_create(*, submissions: list[dict], via: str, batch_size: int = 500) -> int:
    """
    The one bulk path for form submissions, for seeding and benchmarks only: stored as received, never
    queued for processing (no mail goes out), one audit row for the batch. Each dict holds `form_type`,
    `data`, `idempotency_key` and `services` [Service]. Visitors' forms go through submission_create.
    """
    rows, links = [], []
    for spec in submissions:
        email = spec["data"].get("email", "")
        submission = FormSubmission(
            form_type=spec["form_type"],
            data=spec["data"],
            email_hash=email_blind_index(email),
            idempotency_key=spec.get("idempotency_key"),
        )
        rows.append(submission)
        links += [
            FormSubmission.services.through(formsubmission_id=submission.pk, service_id=service.pk)
            for service in spec.get("services", [])
        ]
    FormSubmission.objects.bulk_create(rows, batch_size=batch_size)
    FormSubmission.services.through.objects.bulk_create(links, batch_size=batch_size)
    if rows:
        audit_record(
            action="submission.bulk_created",
            entity_type="submissions.formsubmission",
            changes={"rows": len(rows), "via": via},
        )
    return len(rows)
