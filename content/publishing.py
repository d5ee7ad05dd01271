"""
Writes shared by the content editors keep: save and delete for every content row (the publishable
models, and plain reference rows such as industries and locations), and publish, unpublish, move to the
trash and restore for the publishable ones. Each is audited in its own transaction, and on commit
retires the public pages (common.caching) and has the first pages of the public lists, and the row's
own page, rendered into the cache again by a task. The admin saves through these, inlines included
(its change form runs in one transaction, so the pages are retired after the inlines are written too).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from common.caching import content_version, content_version_bump
from common.models import PublishableModel, PublishStatus
from common.tasks import public_cache_warm


def _audit(action: str, instance: models.Model, actor, **changes) -> None:
    # Publishable rows are known by their slug, reference rows (a location has none) by their name.
    known_as = {"slug": instance.slug} if isinstance(instance, PublishableModel) else {"name": str(instance)}
    audit_record(actor=actor, action=action, entity=instance, changes={**known_as, **changes})


def public_pages_of(instance: models.Model | None = None) -> list[str]:
    """The first page of every public list, and the row's own public page when it has one and is public."""
    paths = [reverse(name) for name in settings.PUBLIC_CACHE_WARM_URL_NAMES]
    url_name = getattr(instance, "api_detail_url_name", None)
    if url_name and instance.publish_state == "published":
        paths.append(reverse(url_name, kwargs={"slug": instance.slug}))
    return paths


def public_pages_changed(instance: models.Model | None = None) -> None:
    """
    Call inside the writing transaction of anything the public API shows. On commit: a new content
    version, then (PUBLIC_CACHE_WARM_AFTER_PUBLISH) a task that renders the public pages again.
    """
    transaction.on_commit(content_version_bump)
    if settings.PUBLIC_CACHE_WARM_AFTER_PUBLISH:
        paths = public_pages_of(instance)
        # The version the task is for: a bulk action's tasks all but the last find a newer one and stop.
        transaction.on_commit(lambda: public_cache_warm.delay(paths, version=content_version()))


@transaction.atomic
def content_save(*, instance: models.Model, actor, changed: list[str] | None = None) -> models.Model:
    created = instance._state.adding
    instance.full_clean()
    instance.save()
    _audit("content.created" if created else "content.updated", instance, actor, fields=sorted(changed or []))
    public_pages_changed(instance)
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
    public_pages_changed(instance)
    return instance


@transaction.atomic
def publishable_unpublish(*, instance: PublishableModel, actor) -> PublishableModel:
    instance.status = PublishStatus.DRAFT
    instance.save(update_fields=["status", "updated_at"])
    _audit("content.unpublished", instance, actor)
    public_pages_changed(instance)
    return instance


@transaction.atomic
def publishable_trash(*, instance: PublishableModel, actor) -> PublishableModel:
    """Soft delete: gone from the site and the default lists, restorable until the retention purge."""
    if instance.deleted_at is None:
        instance.deleted_at = timezone.now()
        instance.save(update_fields=["deleted_at", "updated_at"])
        _audit("content.trashed", instance, actor)
        public_pages_changed(instance)
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
    public_pages_changed(instance)
    return instance


@transaction.atomic
def content_delete(*, instance: models.Model, actor) -> None:
    """
    Hard delete: the row and what hangs off it are gone for good (admins only for publishable rows). A
    reference row still in use is refused by its PROTECT foreign keys, and nothing is written.
    """
    _audit("content.deleted", instance, actor)
    instance.delete()
    public_pages_changed()
