from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from common.models import PublishStatus

from .models import Service, ServiceFeature

CONTENT_VERSION_KEY = "content-version"


def content_version_bump() -> None:
    """
    Public caches key on this number, so bumping it retires every cached page at once. Called on
    commit, so no reader caches the old state after the write is visible.
    """
    try:
        cache.incr(CONTENT_VERSION_KEY)
    except ValueError:
        cache.set(CONTENT_VERSION_KEY, 1, timeout=None)


@transaction.atomic
def service_create(
    *,
    name: str,
    slug: str,
    description: str,
    icon: str,
    order: int = 0,
    features: list[dict] | None = None,
    publish: bool = False,
    actor=None,
) -> Service:
    service = Service(name=name, slug=slug, description=description, icon=icon, order=order)
    if publish:
        service.status = PublishStatus.PUBLISHED
        service.published_at = timezone.now()
    service.full_clean()
    service.save()
    for position, feature in enumerate(features or []):
        item = ServiceFeature(service=service, order=position, **feature)
        item.full_clean()
        item.save()
    audit_record(actor=actor, action="content.created", entity=service, changes={"slug": slug})
    transaction.on_commit(content_version_bump)
    return service
