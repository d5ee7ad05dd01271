from django.db import connection, models, transaction
from django.utils.ipv6 import clean_ipv6_address

from common.context import get_request_context

from . import chain
from .models import AuditLog

# Keys that must never reach the log, whatever a caller passes in `changes`.
_FORBIDDEN_KEYS = {"password", "token", "secret", "phone", "email", "data", "key"}


def _scrub(changes):
    # Nested too: {"before": {"email": ...}} must not slip through.
    if isinstance(changes, dict):
        return {
            k: _scrub(v)
            for k, v in changes.items()
            if not any(bad in str(k).lower() for bad in _FORBIDDEN_KEYS)
        }
    if isinstance(changes, list | tuple):
        return [_scrub(v) for v in changes]
    return changes


def audit_record(
    *,
    action: str,
    entity: models.Model | None = None,
    entity_type: str = "",
    entity_id: str = "",
    actor=None,
    changes: dict | None = None,
) -> AuditLog:
    """
    Writes one audit row. Call it inside the transaction of the write it records, so that both land or
    neither does. The request id and client address come from the request context when there is one.
    """
    if entity is not None:
        entity_type = entity_type or entity._meta.label_lower
        entity_id = entity_id or str(entity.pk)
    context = get_request_context()
    row = AuditLog(
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        actor=actor if getattr(actor, "pk", None) else None,
        changes=chain.normalise_changes(_scrub(changes or {})),
        ip_address=_ip(context.ip_address),
        request_id=context.request_id,
    )
    return chain.append([row])[0]


def audit_record_many(rows: list[dict]) -> list[AuditLog]:
    """Writes many audit rows at once (a batch job's per-row events), in the caller's transaction."""
    context = get_request_context()
    objs = [
        AuditLog(
            action=row["action"],
            entity_type=row.get("entity_type", ""),
            entity_id=str(row.get("entity_id", "")),
            actor_id=row.get("actor_id"),
            changes=chain.normalise_changes(_scrub(row.get("changes") or {})),
            ip_address=_ip(context.ip_address),
            request_id=context.request_id,
        )
        for row in rows
    ]
    return chain.append(objs) if objs else []


def _ip(value):
    # As the column hands it back, so that the row hashes the same before and after it is stored.
    if value and ":" in value:
        return clean_ipv6_address(value)
    return value or None


@transaction.atomic
def audit_purge_batch(*, cutoff, boundary: int, batch_size: int) -> int:
    """
    Removes the next `batch_size` rows of the chain's prefix, up to sequence `boundary`, older than
    `cutoff`; returns how many (0 when none is left). Retention's one way past the append-only guard.
    """
    if connection.vendor == "postgresql":
        # The one path the append-only trigger lets delete, for this transaction only, and only rows
        # older than the cut-off (audit/chain.py).
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('audit.purge_before', %s, true)", [cutoff.isoformat()])
    todo = AuditLog.objects.filter(sequence__lte=boundary)
    # The batch ends at the batch_size-th row still due, or at the last one.
    last = list(todo.order_by("sequence").values_list("sequence", "hash")[batch_size - 1 : batch_size])
    if not last:
        last = list(todo.order_by("-sequence").values_list("sequence", "hash")[:1])
    if not last:
        return 0
    through_sequence, through_hash = last[0]
    # The anchor travels in the chain itself, and is written first: it takes the next number after the
    # newest row even when the batch removes every other row (numbers are never reused), and
    # verification then starts from it.
    deleting = AuditLog.objects.filter(sequence__lte=through_sequence)
    audit_record(
        action=chain.PURGE_ACTION,
        entity_type="audit.auditlog",
        changes={
            "through_sequence": through_sequence,
            "through_hash": through_hash,
            "rows": deleting.count(),
            "cutoff": cutoff.isoformat(),
        },
    )
    deleted, _ = deleting.delete()
    return deleted
