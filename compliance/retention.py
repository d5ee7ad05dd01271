"""
Retention: one registry of policies, each a period from settings.RETENTION (overridable by env) and
what happens to the rows older than it. `retention_apply` runs them in batches, each batch in its own
transaction, under a lock so that two runs never overlap, and records every run in the audit log.

A run that stops part-way (a crash, a deploy) leaves whole batches done and nothing half-written; the
next run picks up the rest, since every policy selects by age and state, never by a cursor it keeps.
Users on legal hold are skipped, and so is everything that is theirs.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import reversion
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from reversion.models import Revision, Version

from accounts.models import Role, User
from audit import chain
from audit.models import AuditLog
from audit.selectors import audit_purge_boundary
from audit.services import audit_purge_batch, audit_record
from common.caching import content_version_bump
from common.crypto import email_blind_index
from common.locks import job_lock
from common.models import SoftDeleteModel
from submissions.models import FormSubmission
from uploads.models import FileUpload
from uploads.services import upload_delete

from .archive import archive_delete, archives_expired, submissions_archive
from .gdpr import users_anonymize

LOCK_NAME = "apply_retention"


@dataclass
class Policy:
    name: str
    description: str
    action: str  # what happens to a matching row, for the report
    batch_size: int


@dataclass
class PolicyResult:
    name: str
    description: str
    action: str
    period: timedelta
    cutoff: datetime
    matched: int = 0
    done: int = 0
    held: int = 0
    batches: int = 0
    # The archive files written before deleting (compliance.archive), by name.
    archives: list[str] = field(default_factory=list)


@dataclass
class RetentionRun:
    dry_run: bool
    locked_out: bool = False
    results: list[PolicyResult] = field(default_factory=list)


POLICIES = {
    "users_inactive": Policy(
        "users_inactive", "users who have not logged in for the period", "anonymised", batch_size=200
    ),
    "uploads": Policy("uploads", "uploaded files older than the period", "deleted with their files", 200),
    "submissions": Policy(
        "submissions", "form submissions older than the period", "archived (encrypted), then deleted", 1000
    ),
    "submission_archives": Policy(
        "submission_archives", "archives of purged submissions older than the legal period", "deleted", 100
    ),
    "audit": Policy("audit", "audit log rows older than the period", "purged", 10_000),
    "soft_deleted": Policy("soft_deleted", "content in the trash for longer than the period", "purged", 500),
    "revisions": Policy(
        "revisions",
        "content revisions older than the period, beyond the newest REVISIONS_KEEP of each item",
        "deleted",
        500,
    ),
}


def retention_periods() -> dict[str, timedelta]:
    unknown = set(settings.RETENTION) - set(POLICIES)
    if unknown:
        raise ValueError(f"settings.RETENTION names unknown policies: {', '.join(sorted(unknown))}")
    periods = {name: settings.RETENTION[name] for name in POLICIES}
    if periods["audit"] < timedelta(days=chain.PURGE_FLOOR_DAYS):
        raise ValueError(
            f"RETENTION_AUDIT_DAYS is {periods['audit'].days}: the database keeps audit rows at least "
            f"{chain.PURGE_FLOOR_DAYS} days (audit/chain.py) and would refuse the purge."
        )
    return periods


# --- what each policy matches ---------------------------------------------------------------------


def _held_users() -> QuerySet:
    return User.objects.filter(legal_hold=True)


def _held_email_hashes() -> list[str]:
    return [email_blind_index(email) for email in _held_users().values_list("email", flat=True)]


def _users_expired(cutoff):
    never_logged_in = Q(last_login__isnull=True, created_at__lt=cutoff)
    # An active admin is never anonymised by a timer: the organisation could lose its last way in.
    return (
        User.objects.filter(Q(last_login__lt=cutoff) | never_logged_in, anonymized_at__isnull=True)
        .exclude(role=Role.ADMIN, is_active=True)
        .order_by("pk")
    )


def _uploads_expired(cutoff):
    return FileUpload.objects.filter(created_at__lt=cutoff).order_by("pk")


def _submissions_expired(cutoff):
    return FormSubmission.objects.filter(created_at__lt=cutoff).order_by("pk")


def _submissions_held(qs):
    return qs.filter(Q(user__legal_hold=True) | Q(email_hash__in=_held_email_hashes()))


def _soft_deleted_models():
    return [m for m in apps.get_models() if issubclass(m, SoftDeleteModel)]


# --- the policies ---------------------------------------------------------------------------------


def _run_users(result, *, dry_run, batch_size, on_batch):
    expired = _users_expired(result.cutoff)
    result.held = expired.filter(legal_hold=True).count()
    todo = expired.filter(legal_hold=False)
    result.matched = result.held + todo.count()
    if dry_run:
        return
    # Keyset by primary key: each batch starts where the last ended, on the index, instead of scanning
    # past the rows already done; and a row locked by another run is left to the next run.
    after = None
    while True:
        with transaction.atomic():
            rows = todo if after is None else todo.filter(pk__gt=after)
            batch = list(rows.select_for_update(skip_locked=True)[:batch_size])
            if not batch:
                return
            after = batch[-1].pk
            users_anonymize(users=batch, actor=None, reason="retention")
        _batch_done(result, len(batch), on_batch)


def _run_uploads(result, *, dry_run, batch_size, on_batch):
    expired = _uploads_expired(result.cutoff)
    result.held = expired.filter(user__legal_hold=True).count()
    todo = expired.filter(user__legal_hold=False).select_related("analysis")
    result.matched = result.held + todo.count()
    if dry_run:
        return
    while True:
        with transaction.atomic():
            batch = list(todo[:batch_size])
            if not batch:
                return
            for upload in batch:
                upload_delete(upload=upload, actor=None)
        _batch_done(result, len(batch), on_batch)


def _run_submissions(result, *, dry_run, batch_size, on_batch):
    expired = _submissions_expired(result.cutoff)
    held = _submissions_held(expired)
    result.held = held.count()
    todo = expired.exclude(pk__in=held.values("pk"))
    result.matched = result.held + todo.count()
    if dry_run:
        return
    while True:
        with transaction.atomic():
            ids = list(todo.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return
            batch = FormSubmission.objects.filter(pk__in=ids).prefetch_related("services")
            # Written first: if the storage refuses, the exception leaves every row in place.
            result.archives.append(submissions_archive(list(batch)))
            FormSubmission.objects.filter(pk__in=ids).delete()
        _batch_done(result, len(ids), on_batch)


def _run_submission_archives(result, *, dry_run, batch_size, on_batch):
    expired = archives_expired(result.cutoff)
    result.matched = len(expired)
    if dry_run:
        return
    for start in range(0, len(expired), batch_size):
        batch = expired[start : start + batch_size]
        for archive in batch:
            archive_delete(archive)
        _batch_done(result, len(batch), on_batch)


def _run_audit(result, *, dry_run, batch_size, on_batch):
    held_ids = [str(pk) for pk in _held_users().values_list("pk", flat=True)]
    boundary = audit_purge_boundary(cutoff=result.cutoff, held_user_ids=held_ids)
    result.matched = AuditLog.objects.filter(created_at__lt=result.cutoff).count()
    result.held = result.matched - AuditLog.objects.filter(sequence__lte=boundary).count()
    if dry_run:
        return
    while deleted := audit_purge_batch(cutoff=result.cutoff, boundary=boundary, batch_size=batch_size):
        _batch_done(result, deleted, on_batch)


def _run_soft_deleted(result, *, dry_run, batch_size, on_batch):
    querysets = [
        m.all_objects.filter(deleted_at__lt=result.cutoff).order_by("pk") for m in _soft_deleted_models()
    ]
    result.matched = sum(qs.count() for qs in querysets)
    if dry_run:
        return
    for qs in querysets:
        while True:
            with transaction.atomic():
                ids = list(qs.values_list("pk", flat=True)[:batch_size])
                if not ids:
                    break
                qs.model.all_objects.filter(pk__in=ids).delete()
            _batch_done(result, len(ids), on_batch)


def _revisions_expired(cutoff) -> QuerySet:
    """
    Revisions of the content older than `cutoff` that are not among the newest REVISIONS_KEEP of their
    item: the history an editor uses stays, a years-long tail of small edits goes.
    """
    rank = Window(RowNumber(), partition_by=["content_type", "object_id"], order_by=F("revision_id").desc())
    items = [
        ContentType.objects.get_for_model(model)
        for model in reversion.get_registered_models()
        if issubclass(model, SoftDeleteModel)  # the items themselves, not their inline rows
    ]
    numbered = Version.objects.filter(content_type__in=items).annotate(rank=rank)
    beyond = numbered.filter(rank__gt=settings.REVISIONS_KEEP).values_list("revision_id", flat=True)
    return Revision.objects.filter(pk__in=list(beyond), date_created__lt=cutoff).order_by("pk")


def _run_revisions(result, *, dry_run, batch_size, on_batch):
    expired = _revisions_expired(result.cutoff)
    result.matched = expired.count()
    if dry_run:
        return
    while True:
        with transaction.atomic():
            ids = list(expired.values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            Revision.objects.filter(pk__in=ids).delete()  # with their versions (cascade)
        _batch_done(result, len(ids), on_batch)


_RUNNERS: dict[str, Callable] = {
    "users_inactive": _run_users,
    "uploads": _run_uploads,
    "submissions": _run_submissions,
    "submission_archives": _run_submission_archives,
    "audit": _run_audit,
    "soft_deleted": _run_soft_deleted,
    "revisions": _run_revisions,
}


def _batch_done(result: PolicyResult, n: int, on_batch) -> None:
    result.done += n
    result.batches += 1
    if on_batch is not None:
        on_batch(result)


def retention_apply(
    *,
    policies: list[str] | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    now: datetime | None = None,
    on_batch: Callable[[PolicyResult], None] | None = None,
) -> RetentionRun:
    """
    Applies the named policies (all by default). With another run holding the lock it does nothing and
    says so (`locked_out`). A dry run counts what would be done and writes nothing, not even the audit
    row: it is a question, not a run.
    """
    periods = retention_periods()
    names = policies or list(POLICIES)
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValueError(f"unknown retention policy: {', '.join(unknown)} (known: {', '.join(POLICIES)})")
    if batch_size is not None and batch_size < 1:
        raise ValueError("batch size must be at least 1")
    now = now or timezone.now()
    run = RetentionRun(dry_run=dry_run)
    with job_lock(LOCK_NAME) as held:
        if not held:
            run.locked_out = True
            return run
        for name in names:
            policy = POLICIES[name]
            result = PolicyResult(
                name=name,
                description=policy.description,
                action=policy.action,
                period=periods[name],
                cutoff=now - periods[name],
            )
            run.results.append(result)
            _RUNNERS[name](
                result, dry_run=dry_run, batch_size=batch_size or policy.batch_size, on_batch=on_batch
            )
        if not dry_run and any(r.done for r in run.results):
            # One bump for the run, whichever policy changed rows: purged trash and anonymised people
            # must not live on in a cached page or in a client's copy revalidated by its ETag.
            transaction.on_commit(content_version_bump)
        if not dry_run:
            audit_record(
                action="retention.run",
                entity_type="compliance.retention",
                changes={
                    r.name: {
                        "matched": r.matched,
                        "done": r.done,
                        "held": r.held,
                        "cutoff": r.cutoff.isoformat(),
                        **({"archives": r.archives} if r.archives else {}),
                    }
                    for r in run.results
                },
            )
    return run
