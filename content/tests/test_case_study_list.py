"""
The case-study list and detail: one path each (a generic view over selectors.case_study_list()), and a
serializer whose row fast path says exactly what its fields say.
"""

import datetime
from unittest import mock

import pytest
from django.utils import timezone

from common.models import PublishStatus
from content import selectors
from content.api.serializers import CaseStudySerializer
from content.models import CaseStudy

from .factories import CaseStudyFactory, CaseStudyResultFactory, IndustryFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _list(api_client, query=""):
    response = api_client.get(f"/api/v1/case-studies/{query}", HTTP_CACHE_CONTROL="no-cache")
    assert response.status_code == 200, response.content
    return response.json()


def _by_slug(body):
    return {item["slug"]: item for item in body["results"]}


@pytest.fixture
def mixed():
    retail = IndustryFactory(slug="retail", name="Retail")
    case_study = CaseStudyFactory(slug="mixed", industry=retail)
    CaseStudyResultFactory(case_study=case_study, metric="Accuracy", value="99%")
    CaseStudyResultFactory(case_study=case_study, metric="Speed", value="3x", description="Faster")
    public = ServiceFactory(slug="public", name="Public", order=2)
    first = ServiceFactory(slug="first", name="First", order=1)
    draft = ServiceFactory(slug="draft", status=PublishStatus.DRAFT)
    later = ServiceFactory(slug="later", published_at=timezone.now() + datetime.timedelta(hours=1))
    trashed = ServiceFactory(slug="trashed", deleted_at=timezone.now())
    case_study.services.set([public, first, draft, later, trashed])
    return case_study


def test_the_list_the_filtered_list_and_the_detail_agree(api_client, mixed):
    listed = _by_slug(_list(api_client))["mixed"]
    filtered = _by_slug(_list(api_client, "?industry=retail&service=public&ordering=title"))["mixed"]
    detail = api_client.get("/api/v1/case-studies/mixed/").json()
    assert listed == filtered == detail
    assert [s["slug"] for s in listed["services"]] == ["first", "public"]
    assert [r["metric"] for r in listed["results"]] == ["Accuracy", "Speed"]


def test_the_rows_fast_path_is_what_the_fields_say(mixed):
    # DRF's own field-by-field path over a model instance (the admin preview uses it) against the row
    # path the API uses: a field added to the serializer and not to its fast path fails here.
    instance = CaseStudy.objects.get(slug="mixed")
    from_fields = CaseStudySerializer(instance).data
    from_fields["services"] = [s for s in from_fields["services"] if s["slug"] in ("first", "public")]
    row = selectors.case_study_relations(list(selectors.case_study_list().filter(slug="mixed")))[0]
    assert CaseStudySerializer(row).data == from_fields
    assert list(CaseStudySerializer(row).data) == list(CaseStudySerializer.Meta.fields)


def test_a_scheduled_service_joins_the_list_when_its_time_comes(api_client, mixed):
    later = timezone.now() + datetime.timedelta(hours=2)
    with mock.patch("django.utils.timezone.now", return_value=later):
        slugs = {s["slug"] for s in _by_slug(_list(api_client))["mixed"]["services"]}
    assert slugs == {"first", "public", "later"}


@pytest.mark.parametrize("ordering", ["published_at", "-published_at", "title", "-title"])
def test_orderings(api_client, ordering):
    for index, title in enumerate(["Beta", "Alpha", "Gamma"]):
        CaseStudyFactory(title=title, published_at=timezone.now() - datetime.timedelta(days=index))
    titles = [item["title"] for item in _list(api_client, f"?ordering={ordering}")["results"]]
    key = "title" if "title" in ordering else "published_at"
    expected = sorted(
        CaseStudy.objects.values("title", "published_at"),
        key=lambda row: row[key],
        reverse=ordering[0] == "-",
    )
    assert titles == [row["title"] for row in expected]


def test_count_and_links_past_the_last_page(api_client):
    CaseStudyFactory.create_batch(3)
    body = _list(api_client, "?limit=2&offset=10")
    assert body["count"] == 3 and body["results"] == []
    body = _list(api_client, "?limit=2&offset=0")
    assert body["count"] == 3 and len(body["results"]) == 2
    assert body["next"] == "/api/v1/case-studies/?limit=2&offset=2"


def test_drafts_scheduled_and_trashed_case_studies_stay_out(api_client):
    CaseStudyFactory(slug="live")
    CaseStudyFactory(slug="draft", status=PublishStatus.DRAFT)
    CaseStudyFactory(slug="later", published_at=timezone.now() + datetime.timedelta(hours=1))
    CaseStudyFactory(slug="trashed", deleted_at=timezone.now())
    assert list(_by_slug(_list(api_client))) == ["live"]
    for slug in ("draft", "later", "trashed"):
        assert api_client.get(f"/api/v1/case-studies/{slug}/").status_code == 404


def test_the_detail_reads_four_queries(api_client, mixed, django_assert_num_queries):
    api_client.get("/api/v1/services/")  # the cache's bookkeeping is not what is measured
    # The row with its industry, its results, its public services, its gallery's links (no images here).
    with django_assert_num_queries(4):
        assert api_client.get("/api/v1/case-studies/mixed/", HTTP_CACHE_CONTROL="no-cache").status_code == 200


PUBLIC_PAGES = [
    "/api/v1/services/",
    "/api/v1/services/public/",
    "/api/v1/industries/",
    "/api/v1/case-studies/",
    "/api/v1/case-studies/mixed/",
    "/api/v1/locations/",
    "/api/v1/impact-stories/",
    "/api/v1/impact-stories/story/",
    "/api/v1/impact-metrics/summary/",
]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_the_browsable_api_renders_every_public_page(api_client, mixed, path):
    from impact.tests.factories import ImpactStoryFactory

    ImpactStoryFactory(slug="story")
    response = api_client.get(path + "?format=api")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"djangorestframework" in response.content.lower() or b"rest_framework" in response.content
