"""
Writes shared by the content editors keep: save and delete for every content row (the publishable
models, and plain reference rows such as industries and locations), and publish, unpublish, move to the
trash and restore for the publishable ones. Each is audited in its own transaction, and on commit
retires the public pages (common.caching) and has the first pages of the public lists, and the row's
own page, rendered into the cache again by a task. The admin saves through these, inlines included
(its change form runs in one transaction, so the pages are retired after the inlines are written too).
"""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from reversion.models import Version

from audit.services import audit_record
from common.caching import content_version, content_version_bump
from common.models import PublishableModel, PublishStatus
from common.tasks import public_cache_warm

from .models import SlugRedirect
from .revisions import STATE_FIELDS, editor_time, revision_record


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


def _slug_redirect_keep(instance: PublishableModel) -> None:
    """
    When a row that is public changes its slug, its old slug keeps answering with a redirect
    (SlugRedirect). A slug taken back by the row it redirects to is no longer a redirect.
    """
    label = instance._meta.label_lower
    before = type(instance).all_objects.filter(pk=instance.pk).first()
    if before is not None and before.slug != instance.slug and before.publish_state == "published":
        SlugRedirect.objects.update_or_create(
            model=label, old_slug=before.slug, defaults={"object_id": instance.pk}
        )
    SlugRedirect.objects.filter(model=label, old_slug=instance.slug, object_id=instance.pk).delete()


def change_comment(instance: models.Model, created: bool, changed: list[str] | None) -> str:
    """A revision's comment as editors read it: "Created", or "Changed title and challenge"."""
    if created:
        return "Created"
    labels = [str(instance._meta.get_field(name).verbose_name) for name in changed or []]
    if not labels:
        return "Saved without changes"
    return "Changed " + (", ".join(labels[:-1]) + " and " + labels[-1] if len(labels) > 1 else labels[0])


@transaction.atomic
def content_save(
    *, instance: models.Model, actor, changed: list[str] | None = None, revision: bool = True
) -> models.Model:
    """
    Validates, saves and audits a content row, and stores a revision of it (content.revisions). The
    admin passes `revision=False` and stores the revision once its inline rows are saved too.
    """
    created = instance._state.adding
    if isinstance(instance, PublishableModel) and instance.status == PublishStatus.PUBLISHED:
        # Published with no time given means now, as the publish action does; not a draft in disguise.
        instance.published_at = instance.published_at or timezone.now()
    instance.full_clean()
    if isinstance(instance, PublishableModel) and not created:
        _slug_redirect_keep(instance)
    instance.save()
    _audit("content.created" if created else "content.updated", instance, actor, fields=sorted(changed or []))
    if revision:
        revision_record(instance=instance, actor=actor, comment=change_comment(instance, created, changed))
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
    revision_record(instance=instance, actor=actor, comment="Published")
    public_pages_changed(instance)
    return instance


@transaction.atomic
def publishable_unpublish(*, instance: PublishableModel, actor) -> PublishableModel:
    instance.status = PublishStatus.DRAFT
    instance.save(update_fields=["status", "updated_at"])
    _audit("content.unpublished", instance, actor)
    revision_record(instance=instance, actor=actor, comment="Unpublished")
    public_pages_changed(instance)
    return instance


@transaction.atomic
def publishable_trash(*, instance: PublishableModel, actor) -> PublishableModel:
    """Soft delete: gone from the site and the default lists, restorable until the retention purge."""
    if instance.deleted_at is None:
        instance.deleted_at = timezone.now()
        instance.save(update_fields=["deleted_at", "updated_at"])
        _audit("content.trashed", instance, actor)
        revision_record(instance=instance, actor=actor, comment="Moved to the trash")
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
    revision_record(instance=instance, actor=actor, comment="Restored from the trash")
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


# --- Reverting ---------------------------------------------------------------------------------------------


@transaction.atomic
def revision_revert(*, instance: PublishableModel, version: Version, actor) -> PublishableModel:
    """
    The item's text, links and inline rows as they were in `version`; its state (STATE_FIELDS) as it
    is now: going back to last month's words must not unpublish or reschedule anything. Validated
    like any save (a slug another live item took since is refused on the slug field, and nothing is
    written); audited, and stored as a new revision.
    """
    model = type(instance)
    data = version.field_dict
    changed = []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in STATE_FIELDS or field.attname not in data:
            continue
        if getattr(instance, field.attname) != data[field.attname]:
            setattr(instance, field.attname, data[field.attname])
            changed.append(field.name)
    instance.full_clean()
    _slug_redirect_keep(instance)
    instance.save()
    for field in model._meta.many_to_many:
        if field.attname in data:
            getattr(instance, field.name).set(data[field.attname])
    for relation in model.revision_follow:
        _rows_revert(instance, relation, version)
    when = editor_time(version.revision.date_created)
    _audit("content.reverted", instance, actor, revision=version.revision_id, fields=sorted(changed))
    revision_record(instance=instance, actor=actor, comment=f"Reverted to the revision of {when}")
    public_pages_changed(instance)
    return instance


def _rows_revert(instance, relation: str, version: Version) -> None:
    """The inline rows of `relation` as the revision holds them: later ones deleted, changed ones restored."""
    manager = getattr(instance, relation)
    related = manager.model
    kept = version.revision.version_set.filter(content_type=ContentType.objects.get_for_model(related))
    wanted = {item.object_id: item.field_dict for item in kept}
    manager.exclude(pk__in=list(wanted)).delete()
    for pk, values in wanted.items():
        # Its own pk is not a clash with itself: constraints and field rules are what is checked.
        related(**values).full_clean(validate_unique=False)
        related._base_manager.update_or_create(pk=pk, defaults=values)
