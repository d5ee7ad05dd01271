import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Max, OuterRef, Prefetch, QuerySet, Subquery, Sum

from content.models import Image
from content.search import search

from .models import ImpactMetric, ImpactStory, Location

IMPACT_STORY_SEARCH = {"titles": ("title",), "bodies": ("story",)}

LATEST = ImpactMetric.Aggregation.LATEST
# Figures are shown to the cent, averages rounded half up on every database.
CENTS = Decimal("0.01")


def location_list() -> QuerySet[Location]:
    return Location.objects.order_by("name")


def impact_story_list() -> QuerySet[ImpactStory]:
    return (
        ImpactStory.objects.published()
        .select_related("location", "hero_image")
        .prefetch_related(
            Prefetch("metrics", queryset=ImpactMetric.objects.order_by("period_start", "metric_name")),
            Prefetch("gallery", queryset=Image.objects.order_by("created_at")),
        )
    )


def impact_story_search(queryset: QuerySet, text: str) -> QuerySet:
    """The impact stories of `queryset` matching `text`, best first (content.search)."""
    return search(queryset, text, **IMPACT_STORY_SEARCH)


def impact_metric_summary(
    *,
    period_start: datetime.date | None = None,
    period_end: datetime.date | None = None,
    story: str | None = None,
    location=None,
    country: str | None = None,
) -> list[dict]:
    """
    One figure per metric (name, unit and aggregation) over the metrics of published stories whose
    period lies wholly inside [period_start, period_end] (either end open when not given), made the
    way the metric aggregates: `sum` adds the rows up, `average` is their mean, `latest` the mean of
    the rows of the latest period (one per story that reported it). `count` is how many rows the
    figure comes from. At most two queries, whatever the number of rows.
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
    groups = list(
        metrics.values("metric_name", "unit", "aggregation")
        .annotate(sum=Sum("value"), count=Count("id"), latest_period_end=Max("period_end"))
        .order_by("metric_name", "unit", "aggregation")
    )
    latest = _latest_figures(metrics) if any(g["aggregation"] == LATEST for g in groups) else {}
    results = []
    for group in groups:
        if group["aggregation"] == LATEST:  # its sum and count: the latest period's rows only
            group = {**group, **latest[(group["metric_name"], group["unit"])]}
        total, count = group["sum"], group["count"]
        if group["aggregation"] != ImpactMetric.Aggregation.SUM:
            # The mean from the exact sum: an SQL AVG is a float on SQLite (2.225 would round to 2.22).
            total = total / count
        results.append(
            {
                "metric_name": group["metric_name"],
                "unit": group["unit"],
                "aggregation": group["aggregation"],
                "total": total.quantize(CENTS, rounding=ROUND_HALF_UP),
                "count": count,
                "latest_period_end": group["latest_period_end"],
            }
        )
    return results


def _latest_figures(metrics: QuerySet[ImpactMetric]) -> dict[tuple[str, str], dict]:
    """(metric_name, unit) -> the sum and count of each `latest` metric's rows of its latest period."""
    latest_end = (
        metrics.filter(metric_name=OuterRef("metric_name"), unit=OuterRef("unit"), aggregation=LATEST)
        .order_by("-period_end")
        .values("period_end")[:1]
    )
    rows = (
        metrics.filter(aggregation=LATEST, period_end=Subquery(latest_end))
        .values("metric_name", "unit")
        .annotate(sum=Sum("value"), count=Count("id"))
        .order_by()
    )
    return {(row["metric_name"], row["unit"]): row for row in rows}
