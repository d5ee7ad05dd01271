from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from common.models import PublishStatus
from content.publishing import public_pages_changed

from .models import Service, ServiceFeature


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
    public_pages_changed(service)
    return service
