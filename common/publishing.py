"""
Writes shared by every publishable model (services, case studies, impact stories): save, publish,
unpublish, move to the trash, restore. Each is audited in its own transaction; the public cache and the
stored documents follow through the models' signals.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record

from .models import PublishableModel, PublishStatus


def _audit(action: str, instance: PublishableModel, actor, **changes) -> None:
    audit_record(actor=actor, action=action, entity=instance, changes={"slug": instance.slug, **changes})


@transaction.atomic
def publishable_save(
    *, instance: PublishableModel, actor, changed: list[str] | None = None
) -> PublishableModel:
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
def publishable_delete(*, instance: PublishableModel, actor) -> None:
    """Hard delete (admins only): the row and what hangs off it are gone for good."""
    _audit("content.deleted", instance, actor)
    instance.delete()
