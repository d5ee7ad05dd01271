import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from common.caching import content_version
from common.models import PublishStatus

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
    assert everything["results"] == [{"metric_name": "Jobs", "unit": "people", "total": "220.50", "count": 3}]

    fy = api_client.get(
        "/api/v1/impact-metrics/summary/?period_start=2024-04-01&period_end=2025-03-31"
    ).json()
    assert fy["period_start"] == "2024-04-01"
    assert fy["results"][0]["total"] == "150.50"

    only_india = api_client.get("/api/v1/impact-metrics/summary/?country=IN&period_start=2024-04-01").json()
    assert only_india["results"][0]["total"] == "100.00"
    assert api_client.get("/api/v1/impact-metrics/summary/?story=b").json()["results"][0]["total"] == "50.50"


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
    with django_assert_num_queries(3):
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
