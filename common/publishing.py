"""
Writes shared by the content editors keep: save and delete for every content row (the publishable
models, and plain reference rows such as industries and locations), and publish, unpublish, move to the
trash and restore for the publishable ones. Each is audited in its own transaction; the public cache and
the stored documents follow through the models' signals.
"""

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from audit.services import audit_record

from .models import PublishableModel, PublishStatus


def _audit(action: str, instance: models.Model, actor, **changes) -> None:
    # Publishable rows are known by their slug, reference rows (a location has none) by their name.
    known_as = {"slug": instance.slug} if isinstance(instance, PublishableModel) else {"name": str(instance)}
    audit_record(actor=actor, action=action, entity=instance, changes={**known_as, **changes})


@transaction.atomic
def content_save(*, instance: models.Model, actor, changed: list[str] | None = None) -> models.Model:
    created = instance._state.adding
    instance.full_clean()
    instance.save()
    _audit("content.created" if created else "content.updated", instance, actor, fields=sorted(changed or []))
    return instance


@transaction.atomic
def publishable_publish(*, instance: PublishableModel, actor, at=None) -> PublishableModel:
    """Publishes now, or at `at`; a row already scheduled keeps its time unless `at` is given."""
    instance.status = PublishStatus.PUBLISHED
    if at is not None or instance.published_at is None:
        instance.published_at = at or timezone.now()
    instance.full_clean()
    instance.save(update_fields=["status", "published_at", "updated_at"])
    _audit("content.published", instance, actor, published_at=instance.published_at.isoformat())
    return instance


@transaction.atomic
def publishable_unpublish(*, instance: PublishableModel, actor) -> PublishableModel:
    instance.status = PublishStatus.DRAFT
    instance.save(update_fields=["status", "updated_at"])
    _audit("content.unpublished", instance, actor)
    return instance


@transaction.atomic
def publishable_trash(*, instance: PublishableModel, actor) -> PublishableModel:
    """Soft delete: gone from the site and the default lists, restorable until the retention purge."""
    if instance.deleted_at is None:
        instance.deleted_at = timezone.now()
        instance.save(update_fields=["deleted_at", "updated_at"])
        _audit("content.trashed", instance, actor)
    return instance


@transaction.atomic
def publishable_restore(*, instance: PublishableModel, actor) -> PublishableModel:
    if instance.deleted_at is None:
        return instance
    clash = type(instance).objects.filter(slug=instance.slug).exclude(pk=instance.pk).exists()
    if clash:
        raise ValidationError(
            f"“{instance}” cannot be restored: another live item now uses the slug “{instance.slug}”. "
            "Change one of the two slugs first."
        )
    instance.deleted_at = None
    instance.save(update_fields=["deleted_at", "updated_at"])
    _audit("content.restored", instance, actor)
    return instance


@transaction.atomic
def content_delete(*, instance: models.Model, actor) -> None:
    """
    Hard delete: the row and what hangs off it are gone for good (admins only for publishable rows). A
    reference row still in use is refused by its PROTECT foreign keys, and nothing is written.
    """
    _audit("content.deleted", instance, actor)
    instance.delete()
