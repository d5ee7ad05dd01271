import datetime
from unittest import mock

import pytest
from django.utils import timezone

from common.caching import content_version
from common.models import PublishStatus
from content.models import Service

from .factories import (
    CaseStudyFactory,
    CaseStudyResultFactory,
    IndustryFactory,
    ServiceFactory,
    ServiceFeatureFactory,
)

pytestmark = pytest.mark.django_db


def _slugs(response):
    assert response.status_code == 200, response.content
    return [item["slug"] for item in response.json()["results"]]


def test_only_published_services_are_public(api_client):
    ServiceFactory(slug="live")
    ServiceFactory(slug="draft", status=PublishStatus.DRAFT)
    ServiceFactory(slug="scheduled", published_at=timezone.now() + datetime.timedelta(hours=1))
    deleted = ServiceFactory(slug="deleted")
    Service.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())

    assert _slugs(api_client.get("/api/v1/services/")) == ["live"]
    for slug in ("draft", "scheduled", "deleted"):
        response = api_client.get(f"/api/v1/services/{slug}/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_service_detail_nests_features_in_order(api_client):
    service = ServiceFactory(slug="annotation", name="Annotation")
    ServiceFeatureFactory(service=service, title="Second", order=2)
    ServiceFeatureFactory(service=service, title="First", order=1)
    body = api_client.get("/api/v1/services/annotation/").json()
    assert body["name"] == "Annotation"
    assert [f["title"] for f in body["features"]] == ["First", "Second"]


def test_scheduled_service_appears_when_its_time_comes_without_a_save(api_client):
    ServiceFactory(slug="now")
    ServiceFactory(slug="later", published_at=timezone.now() + datetime.timedelta(hours=1))
    assert _slugs(api_client.get("/api/v1/services/")) == ["now"]  # cached from here on

    future = timezone.now() + datetime.timedelta(hours=2)
    with (
        mock.patch("django.utils.timezone.now", return_value=future),
        mock.patch("common.caching.time.time", return_value=future.timestamp()),
    ):
        assert sorted(_slugs(api_client.get("/api/v1/services/"))) == ["later", "now"]


def test_case_study_nests_industry_results_and_only_public_services(api_client):
    retail = IndustryFactory(slug="retail", name="Retail")
    public = ServiceFactory(slug="public-service")
    hidden = ServiceFactory(slug="hidden-service", status=PublishStatus.DRAFT)
    case_study = CaseStudyFactory(slug="shop", industry=retail)
    case_study.services.set([public, hidden])
    CaseStudyResultFactory(case_study=case_study, metric="Accuracy", value="99%")

    body = api_client.get("/api/v1/case-studies/shop/").json()
    assert body["industry"] == {"name": "Retail", "slug": "retail"}
    assert [s["slug"] for s in body["services"]] == ["public-service"]
    assert body["results"] == [{"metric": "Accuracy", "value": "99%", "description": ""}]


def test_case_study_filters_search_and_ordering(api_client):
    retail, finance = IndustryFactory(slug="retail"), IndustryFactory(slug="finance")
    collection = ServiceFactory(slug="collection")
    a = CaseStudyFactory(slug="a", title="Alpha shelves", industry=retail)
    a.services.add(collection)
    CaseStudyFactory(slug="b", title="Beta invoices", industry=finance, solution="Human review of invoices")
    CaseStudyFactory(slug="c", title="Gamma carts", industry=retail)

    assert sorted(_slugs(api_client.get("/api/v1/case-studies/?industry=retail"))) == ["a", "c"]
    assert _slugs(api_client.get("/api/v1/case-studies/?service=collection")) == ["a"]
    assert _slugs(api_client.get("/api/v1/case-studies/?search=human+invoices")) == ["b"]
    assert _slugs(api_client.get("/api/v1/case-studies/?ordering=-title")) == ["c", "b", "a"]
    assert _slugs(api_client.get("/api/v1/case-studies/?industry=nowhere")) == []

    bad = api_client.get("/api/v1/case-studies/?ordering=client")
    assert bad.status_code == 400
    assert "ordering" in bad.json()["error"]["fields"]


def test_page_size_is_capped_at_100_and_links_are_relative(api_client):
    IndustryFactory.create_batch(105)
    body = api_client.get("/api/v1/industries/?limit=500").json()
    assert body["count"] == 105
    assert len(body["results"]) == 100
    assert body["next"] == "/api/v1/industries/?limit=100&offset=100"


def _retail_case_studies(n):
    retail = IndustryFactory(slug="retail")
    return [CaseStudyResultFactory(case_study=CaseStudyFactory(industry=retail)) for _ in range(n)]


@pytest.mark.parametrize("rows", [1, 50])
@pytest.mark.parametrize(
    ("url", "make", "queries"),
    [
        ("/api/v1/services/", lambda n: ServiceFeatureFactory.create_batch(n), 3),
        ("/api/v1/industries/", lambda n: IndustryFactory.create_batch(n), 2),
        # The count, the page with its industries, its results, its public services, its galleries' links
        # (and the images, when there are any: content/tests/test_images.py).
        ("/api/v1/case-studies/?limit=100", lambda n: CaseStudyResultFactory.create_batch(n), 5),
        ("/api/v1/case-studies/?limit=100&industry=retail", _retail_case_studies, 5),
    ],
)
def test_list_query_count_is_constant(api_client, django_assert_num_queries, url, make, queries, rows):
    objects = make(rows)
    for item in objects:
        if hasattr(item, "case_study"):
            item.case_study.services.add(ServiceFactory())
    content_version()  # the cache's bookkeeping is not what is measured
    with django_assert_num_queries(queries):
        response = api_client.get(url, HTTP_CACHE_CONTROL="no-cache")
    assert response.json()["count"] == rows
