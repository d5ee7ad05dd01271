from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from audit.services import audit_record
from common.caching import content_version_bump
from common.models import PublishStatus

from .models import CaseStudy, CaseStudyResult, Industry, Service, ServiceFeature
from .publishing import public_pages_changed


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


@transaction.atomic
def reference_rows_ensure(*, model, rows: list[dict], key: str, via: str) -> tuple[dict, int]:
    """
    Reference rows (industries, locations) created where missing, for seeding: each dict is the
    arguments of one get_or_create. Returns the rows by their `key` field and how many were created.
    """
    found, created = {}, 0
    for row in rows:
        obj, new = model.objects.get_or_create(**row)
        found[getattr(obj, key)] = obj
        created += new
    if created:
        changes = {"rows": created, "via": via}
        audit_record(action="content.bulk_created", entity_type=model._meta.label_lower, changes=changes)
        # Retired, not warmed: a seed of many copies would render the pages once per copy.
        transaction.on_commit(content_version_bump)
    return found, created


def industries_ensure(*, names: list[str], via: str) -> tuple[dict[str, Industry], int]:
    """Industries by name, created where missing (seeding); returns them and how many were created."""
    rows = [{"slug": slugify(name), "defaults": {"name": name}} for name in names]
    return reference_rows_ensure(model=Industry, rows=rows, key="name", via=via)


@transaction.atomic
def case_studies_bulk_create(*, case_studies: list[dict], via: str, batch_size: int = 500) -> dict[str, int]:
    """
    The one bulk path for case studies, for seeding and benchmarks only: rows, their results and their
    services in a few bulk inserts, one audit row for the batch, the public pages retired once. Each
    dict holds the CaseStudy fields plus `results` [(metric, value)] and `services` [Service].
    """
    rows, results, links = [], [], []
    for spec in case_studies:
        spec = dict(spec)
        outcomes, services = spec.pop("results", []), spec.pop("services", [])
        case_study = CaseStudy(**spec)
        rows.append(case_study)
        results += [CaseStudyResult(case_study=case_study, metric=m, value=v) for m, v in outcomes]
        links += [CaseStudy.services.through(casestudy_id=case_study.pk, service_id=s.pk) for s in services]
    CaseStudy.objects.bulk_create(rows, batch_size=batch_size)
    CaseStudyResult.objects.bulk_create(results, batch_size=batch_size)
    CaseStudy.services.through.objects.bulk_create(links, batch_size=batch_size)
    if rows:
        audit_record(
            action="content.bulk_created",
            entity_type="content.casestudy",
            changes={"rows": len(rows), "via": via},
        )
        # Retired, not warmed: a seed of many copies would render the pages once per copy.
        transaction.on_commit(content_version_bump)
    return {"case studies": len(rows), "case study results": len(results)}
