"""
Writes of the plain reference rows editors keep (industries, locations): saved and deleted with an audit
row in the same transaction, under the same actions as the publishable models (common/publishing.py).
"""

from django.db import models, transaction

from audit.services import audit_record


def _audit(action: str, instance: models.Model, actor, **changes) -> None:
    audit_record(actor=actor, action=action, entity=instance, changes={"name": str(instance), **changes})


@transaction.atomic
def reference_save(*, instance: models.Model, actor, changed: list[str] | None = None) -> models.Model:
    created = instance._state.adding
    instance.full_clean()
    instance.save()
    _audit("content.created" if created else "content.updated", instance, actor, fields=sorted(changed or []))
    return instance


@transaction.atomic
def reference_delete(*, instance: models.Model, actor) -> None:
    """Hard delete; a row still in use is refused by its PROTECT foreign keys and nothing is written."""
    _audit("content.deleted", instance, actor)
    instance.delete()
