import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from common.caching import content_version
from common.models import PublishStatus
from impact import selectors

from .factories import ImpactMetricFactory, ImpactStoryFactory, LocationFactory

pytestmark = pytest.mark.django_db


def _slugs(response):
    assert response.status_code == 200, response.content
    return [item["slug"] for item in response.json()["results"]]


def test_only_published_stories_are_public_with_location_and_metrics(api_client):
    place = LocationFactory(name="Ramanagara", region="Karnataka", country="IN")
    story = ImpactStoryFactory(slug="women", location=place)
    ImpactMetricFactory(story=story, metric_name="Jobs created", value=Decimal("420"))
    ImpactStoryFactory(slug="draft", status=PublishStatus.DRAFT)
    ImpactStoryFactory(slug="soon", published_at=timezone.now() + datetime.timedelta(days=1))

    assert _slugs(api_client.get("/api/v1/impact-stories/")) == ["women"]
    body = api_client.get("/api/v1/impact-stories/women/").json()
    assert body["location"]["name"] == "Ramanagara" and body["location"]["country"] == "IN"
    assert body["location"]["country_name"] == "India"
    assert body["metrics"][0]["metric_name"] == "Jobs created"
    assert body["metrics"][0]["value"] == "420.00"
    assert api_client.get("/api/v1/impact-stories/draft/").status_code == 404


def test_story_filters_by_location_and_country(api_client):
    india = LocationFactory(country="IN")
    kenya = LocationFactory(country="KE")
    ImpactStoryFactory(slug="in", location=india)
    ImpactStoryFactory(slug="ke", location=kenya)
    assert _slugs(api_client.get(f"/api/v1/impact-stories/?location={india.pk}")) == ["in"]
    assert _slugs(api_client.get("/api/v1/impact-stories/?country=ke")) == ["ke"]
    bad = api_client.get("/api/v1/impact-stories/?location=not-a-uuid")
    assert bad.status_code == 400 and "location" in bad.json()["error"]["fields"]


def test_locations_list(api_client):
    LocationFactory(name="Yemmiganur", region="Andhra Pradesh")
    body = api_client.get("/api/v1/locations/").json()
    assert body["results"][0]["name"] == "Yemmiganur"
    assert body["results"][0]["region"] == "Andhra Pradesh"


def test_metric_summary_totals_per_metric_over_a_period(api_client):
    india, kenya = LocationFactory(country="IN"), LocationFactory(country="KE")
    a, b = ImpactStoryFactory(slug="a", location=india), ImpactStoryFactory(slug="b", location=kenya)
    fy24 = {"period_start": datetime.date(2024, 4, 1), "period_end": datetime.date(2025, 3, 31)}
    fy23 = {"period_start": datetime.date(2023, 4, 1), "period_end": datetime.date(2024, 3, 31)}
    ImpactMetricFactory(story=a, metric_name="Jobs", unit="people", value=Decimal("100"), **fy24)
    ImpactMetricFactory(story=b, metric_name="Jobs", unit="people", value=Decimal("50.5"), **fy24)
    ImpactMetricFactory(story=a, metric_name="Jobs", unit="people", value=Decimal("70"), **fy23)
    hidden = ImpactStoryFactory(slug="hidden", status=PublishStatus.DRAFT, location=india)
    ImpactMetricFactory(story=hidden, metric_name="Jobs", unit="people", value=Decimal("999"), **fy24)

    everything = api_client.get("/api/v1/impact-metrics/summary/").json()
    assert everything["results"] == [
        {
            "metric_name": "Jobs",
            "unit": "people",
            "aggregation": "sum",
            "total": "220.50",
            "count": 3,
            "latest_period_end": "2025-03-31",
        }
    ]

    fy = api_client.get(
        "/api/v1/impact-metrics/summary/?period_start=2024-04-01&period_end=2025-03-31"
    ).json()
    assert fy["period_start"] == "2024-04-01"
    assert fy["results"][0]["total"] == "150.50"

    only_india = api_client.get("/api/v1/impact-metrics/summary/?country=IN&period_start=2024-04-01").json()
    assert only_india["results"][0]["total"] == "100.00"
    assert api_client.get("/api/v1/impact-metrics/summary/?story=b").json()["results"][0]["total"] == "50.50"


FY23 = {"period_start": datetime.date(2023, 4, 1), "period_end": datetime.date(2024, 3, 31)}
FY24 = {"period_start": datetime.date(2024, 4, 1), "period_end": datetime.date(2025, 3, 31)}


def _mixed_metrics():
    """Counts, a rate and a multiplier over two stories and two financial years."""
    a, b = ImpactStoryFactory(slug="a"), ImpactStoryFactory(slug="b")
    for story, name, unit, aggregation, value, period in [
        (a, "Jobs", "people", "sum", "100", FY24),
        (b, "Jobs", "people", "sum", "50.5", FY24),
        (a, "Jobs", "people", "sum", "70", FY23),
        (a, "Women employed", "%", "average", "48.8", FY23),
        (a, "Women employed", "%", "average", "61", FY24),
        (b, "Women employed", "%", "average", "55", FY24),
        (a, "Income uplift", "x", "latest", "1.92", FY23),
        (a, "Income uplift", "x", "latest", "2.4", FY24),
        (b, "Income uplift", "x", "latest", "2.05", FY24),
    ]:
        ImpactMetricFactory(
            story=story, metric_name=name, unit=unit, aggregation=aggregation, value=Decimal(value), **period
        )


def _figures(response):
    assert response.status_code == 200, response.content
    return [(r["metric_name"], r["aggregation"], r["total"], r["count"]) for r in response.json()["results"]]


def test_metric_summary_sums_counts_averages_rates_and_takes_the_latest_multiplier(api_client):
    _mixed_metrics()

    everything = api_client.get("/api/v1/impact-metrics/summary/")
    earlier_year = api_client.get("/api/v1/impact-metrics/summary/?period_end=2024-03-31")

    assert _figures(everything) == [
        ("Income uplift", "latest", "2.23", 2),  # FY24's two stories: (2.4 + 2.05) / 2, rounded half up
        ("Jobs", "sum", "220.50", 3),
        ("Women employed", "average", "54.93", 3),  # (48.8 + 61 + 55) / 3, never 164.80 %
    ]
    assert {r["latest_period_end"] for r in everything.json()["results"]} == {"2025-03-31"}
    assert _figures(earlier_year) == [
        ("Income uplift", "latest", "1.92", 1),
        ("Jobs", "sum", "70.00", 1),
        ("Women employed", "average", "48.80", 1),
    ]
    only_b = api_client.get("/api/v1/impact-metrics/summary/?story=b")
    assert _figures(only_b) == [
        ("Income uplift", "latest", "2.05", 1),
        ("Jobs", "sum", "50.50", 1),
        ("Women employed", "average", "55.00", 1),
    ]


@pytest.mark.parametrize("stories", [1, 50])
def test_metric_summary_query_count_is_constant(django_assert_num_queries, stories):
    for _ in range(stories):
        _mixed_metrics_for(ImpactStoryFactory())
    with django_assert_num_queries(2):
        results = selectors.impact_metric_summary()
    assert [(r["metric_name"], r["count"]) for r in results] == [
        ("Income uplift", stories),
        ("Jobs", 2 * stories),
        ("Women employed", 2 * stories),
    ]


def _mixed_metrics_for(story):
    for name, unit, aggregation, period in [
        ("Jobs", "people", "sum", FY23),
        ("Jobs", "people", "sum", FY24),
        ("Women employed", "%", "average", FY23),
        ("Women employed", "%", "average", FY24),
        ("Income uplift", "x", "latest", FY23),
        ("Income uplift", "x", "latest", FY24),
    ]:
        ImpactMetricFactory(story=story, metric_name=name, unit=unit, aggregation=aggregation, **period)


def test_the_schema_says_how_each_total_is_made():
    from drf_spectacular.generators import SchemaGenerator

    spec = SchemaGenerator().get_schema(request=None, public=True)
    total = spec["components"]["schemas"]["MetricTotal"]["properties"]
    assert set(spec["components"]["schemas"]["AggregationEnum"]["enum"]) == {"sum", "average", "latest"}
    assert "average" in total["total"]["description"] and "latest" in total["total"]["description"]
    operation = spec["paths"]["/api/v1/impact-metrics/summary/"]["get"]
    assert "aggregation" in operation["description"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period_start=2025-01-01&period_end=2024-01-01", "period_end"),
        ("period_start=yesterday", "period_start"),
        ("location=42", "location"),
        ("country=IND", "country"),
    ],
)
def test_metric_summary_refuses_bad_input_naming_the_field(api_client, query, field):
    response = api_client.get(f"/api/v1/impact-metrics/summary/?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize("rows", [1, 50])
def test_story_list_query_count_is_constant(api_client, django_assert_num_queries, rows):
    for metric in ImpactMetricFactory.create_batch(rows):
        ImpactMetricFactory(story=metric.story, metric_name="Second")
    content_version()
    # Count, page (with location and hero image), metrics, gallery.
    with django_assert_num_queries(4):
        response = api_client.get("/api/v1/impact-stories/?limit=100", HTTP_CACHE_CONTROL="no-cache")
    assert response.json()["count"] == rows
    assert all(len(story["metrics"]) == 2 for story in response.json()["results"])


@pytest.mark.parametrize("rows", [1, 50])
def test_location_list_query_count_is_constant(api_client, django_assert_num_queries, rows):
    LocationFactory.create_batch(rows)
    content_version()
    with django_assert_num_queries(2):
        response = api_client.get("/api/v1/locations/?limit=100", HTTP_CACHE_CONTROL="no-cache")
    assert response.json()["count"] == rows
