from django.db import models

from common.context import get_request_context

from .models import AuditLog

# Keys that must never reach the log, whatever a caller passes in `changes`.
_FORBIDDEN_KEYS = {"password", "token", "secret", "phone", "email", "data", "key"}


def _scrub(changes: dict) -> dict:
    return {k: v for k, v in changes.items() if not any(bad in k.lower() for bad in _FORBIDDEN_KEYS)}


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
    return AuditLog.objects.create(
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        actor=actor if getattr(actor, "pk", None) else None,
        changes=_scrub(changes or {}),
        ip_address=context.ip_address,
        request_id=context.request_id,
    )
