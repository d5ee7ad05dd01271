"""
Writes of impact content. Editors' saves, publishing and trash go through content.publishing (the
admin calls it, as for case studies); what is here is the bulk path for seeding and benchmarks.
"""

from django.db import transaction

from audit.services import audit_record
from common.caching import content_version_bump
from content.services import reference_rows_ensure

from .models import ImpactMetric, ImpactStory, Location


def locations_ensure(*, locations: list[dict], via: str) -> tuple[dict[str, Location], int]:
    """Locations by name, created where missing (seeding); returns them and how many were created."""
    return reference_rows_ensure(model=Location, rows=locations, key="name", via=via)


@transaction.atomic
def impact_stories_bulk_create(*, stories: list[dict], via: str, batch_size: int = 500) -> dict[str, int]:
    """
    The one bulk path for impact stories, for seeding and benchmarks only: stories and their metrics in
    two bulk inserts, one audit row for the batch, the public pages retired once. Each dict holds the
    ImpactStory fields plus `metrics` [dict of ImpactMetric fields].
    """
    rows, metrics = [], []
    for spec in stories:
        spec = dict(spec)
        figures = spec.pop("metrics", [])
        story = ImpactStory(**spec)
        rows.append(story)
        metrics += [ImpactMetric(story=story, **figure) for figure in figures]
    ImpactStory.objects.bulk_create(rows, batch_size=batch_size)
    ImpactMetric.objects.bulk_create(metrics, batch_size=batch_size)
    if rows:
        audit_record(
            action="content.bulk_created",
            entity_type="impact.impactstory",
            changes={"rows": len(rows), "via": via},
        )
        # Retired, not warmed: a seed of many copies would render the pages once per copy.
        transaction.on_commit(content_version_bump)
    return {"impact stories": len(rows), "impact metrics": len(metrics)}
