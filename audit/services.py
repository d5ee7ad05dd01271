from django.db import models
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
