"""The replay of the erasures a restore undid, from the journal and the ErasureRecord table together."""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from common.caching import content_version_bump
from submissions.models import FormSubmission

from .gdpr import user_belongings_delete
from .journal import journal_append_safely, journal_entry, journal_read
from .models import ErasureRecord

logger = logging.getLogger(__name__)


def erasures_replay(*, since: datetime, progress=None) -> dict:
    """
    Applies again every erasure made at or after `since`: the user row a restore brought back is erased
    again (legal hold or not: the erasure happened; held users are reported), visitor submissions sent
    with the address up to the erasure are deleted, a missing ErasureRecord is put back with its id and
    a missing journal line is written. A second run changes nothing. `progress(done, total)` after each.
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

    rows, missing_lines = [], []
    with transaction.atomic():
        for entry in sorted(entries.values(), key=lambda e: (e["erased_at"], e["record_id"])):
            row = _replay_one(entry, records)
            if entry["record_id"] not in journaled:
                missing_lines.append(journal_entry(records[entry["record_id"]]))
                row["journal_repaired"] = True
            rows.append(row)
            if progress is not None:
                progress(len(rows), len(entries))
        totals = _totals(rows)
        changed = any(totals[name] for name in totals if name != "erasures")
        if changed:
            audit_record(
                action="erasure.replayed",
                entity_type=ErasureRecord._meta.label_lower,
                changes={"since": since.isoformat(), **totals},
            )
            transaction.on_commit(lambda: journal_append_safely(missing_lines))
            transaction.on_commit(content_version_bump)
    return {"since": since, "changed": changed, "unreadable_lines": read.unreadable, **totals, "rows": rows}


def _replay_one(entry: dict, records: dict) -> dict:
    """One erasure applied again; `records` gains the ErasureRecord it puts back."""
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
        counts = user_belongings_delete(user=user, actor=None, submissions_before=entry["erased_at"])
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
    return row


def _totals(rows: list[dict]) -> dict:
    return {
        "erasures": len(rows),
        "users_erased": sum(row["user_erased"] for row in rows),
        "submissions_deleted": sum(row["submissions"] for row in rows),
        "uploads_deleted": sum(row["uploads"] for row in rows),
        "records_restored": sum(row["record_restored"] for row in rows),
        "journal_repaired": sum(row["journal_repaired"] for row in rows),
        "held_users": sum(row["legal_hold"] for row in rows),
    }
