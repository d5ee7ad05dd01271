import datetime

from django.db.models import Count, Prefetch, QuerySet, Sum

from .models import ImpactMetric, ImpactStory, Location


def location_list() -> QuerySet[Location]:
    return Location.objects.order_by("name")


def impact_story_list() -> QuerySet[ImpactStory]:
    return (
        ImpactStory.objects.published()
        .select_related("location")
        .prefetch_related(
            Prefetch("metrics", queryset=ImpactMetric.objects.order_by("period_start", "metric_name"))
        )
    )


def impact_metric_summary(
    *,
    period_start: datetime.date | None = None,
    period_end: datetime.date | None = None,
    story: str | None = None,
    location=None,
    country: str | None = None,
) -> list[dict]:
    """
    Totals per metric and unit over the metrics of published stories whose period lies wholly inside
    [period_start, period_end] (either end open when not given).
    """
    metrics = ImpactMetric.objects.filter(story__in=ImpactStory.objects.published())
    if period_start:
        metrics = metrics.filter(period_start__gte=period_start)
    if period_end:
        metrics = metrics.filter(period_end__lte=period_end)
    if story:
        metrics = metrics.filter(story__slug=story)
    if location:
        metrics = metrics.filter(story__location_id=location)
    if country:
        metrics = metrics.filter(story__location__country=country.upper())
    return list(
        metrics.values("metric_name", "unit")
        .annotate(total=Sum("value"), count=Count("id"))
        .order_by("metric_name", "unit")
    )
