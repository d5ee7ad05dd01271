"""The stored case-study documents never show anything the serializer would not show right now."""

import datetime
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.generics import ListAPIView

from common.caching import content_version
from common.models import PublishStatus
from content import documents
from content.api.views import CaseStudyListApi
from content.models import CaseStudy, Service

from .factories import CaseStudyFactory, CaseStudyResultFactory, IndustryFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _list(api_client, query="", **headers):
    response = api_client.get(f"/api/v1/case-studies/{query}", HTTP_CACHE_CONTROL="no-cache", **headers)
    assert response.status_code == 200, response.content
    return response.json()


def _by_slug(body):
    return {item["slug"]: item for item in body["results"]}


@pytest.fixture
def mixed():
    retail = IndustryFactory(slug="retail", name="Retail")
    case_study = CaseStudyFactory(slug="mixed", industry=retail)
    CaseStudyResultFactory(case_study=case_study, metric="Accuracy", value="99%")
    public = ServiceFactory(slug="public", name="Public")
    draft = ServiceFactory(slug="draft", status=PublishStatus.DRAFT)
    later = ServiceFactory(slug="later", published_at=timezone.now() + datetime.timedelta(hours=1))
    case_study.services.set([public, draft, later])
    return case_study


def test_fast_path_filtered_path_and_detail_agree(api_client, mixed):
    fast = _by_slug(_list(api_client))["mixed"]
    filtered = _by_slug(_list(api_client, "?industry=retail"))["mixed"]
    detail = api_client.get("/api/v1/case-studies/mixed/").json()
    assert fast == filtered == detail
    assert [s["slug"] for s in fast["services"]] == ["public"]
    assert fast["results"] == [{"metric": "Accuracy", "value": "99%", "description": ""}]


def test_a_scheduled_service_joins_the_list_when_its_time_comes(api_client, mixed):
    later = timezone.now() + datetime.timedelta(hours=2)
    with mock.patch("django.utils.timezone.now", return_value=later):
        slugs = {s["slug"] for s in _by_slug(_list(api_client))["mixed"]["services"]}
    assert slugs == {"public", "later"}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda cs: Service.objects.filter(slug="public").get().save(), id="noop-save"),
        pytest.param(lambda cs: _rename_service(), id="service-renamed"),
        pytest.param(lambda cs: _unpublish_service(), id="service-unpublished"),
        pytest.param(lambda cs: Service.objects.get(slug="public").delete(), id="service-hard-deleted"),
        pytest.param(lambda cs: cs.services.remove(Service.objects.get(slug="public")), id="m2m-remove"),
        pytest.param(lambda cs: cs.services.clear(), id="m2m-clear"),
        pytest.param(
            lambda cs: Service.objects.get(slug="public").case_studies.clear(), id="m2m-reverse-clear"
        ),
        pytest.param(lambda cs: _rename_industry(cs), id="industry-renamed"),
        pytest.param(lambda cs: CaseStudyResultFactory(case_study=cs, metric="Speed"), id="result-added"),
        pytest.param(lambda cs: cs.results.first().delete(), id="result-deleted"),
        pytest.param(lambda cs: _retitle(cs), id="case-study-retitled"),
    ],
)
def test_every_write_reaches_the_list(api_client, mixed, change):
    change(mixed)
    expected = api_client.get("/api/v1/case-studies/mixed/").json()  # the serializer, live
    assert _by_slug(_list(api_client))["mixed"] == expected
    assert _by_slug(_list(api_client, "?industry=" + expected["industry"]["slug"]))["mixed"] == expected


def _rename_service():
    service = Service.objects.get(slug="public")
    service.name = "Renamed"
    service.save()


def _unpublish_service():
    service = Service.objects.get(slug="public")
    service.status = PublishStatus.DRAFT
    service.save()


def _rename_industry(case_study):
    industry = case_study.industry
    industry.name = "Retail & e-commerce"
    industry.save()


def _retitle(case_study):
    case_study.title = "A new title"
    case_study.save()


def test_a_document_a_bulk_write_left_out_is_rendered_not_a_500(api_client, mixed):
    CaseStudy.objects.filter(pk=mixed.pk).update(api_document="")
    for query in ("", "?industry=retail"):
        CaseStudy.objects.filter(pk=mixed.pk).update(api_document="")
        assert _by_slug(_list(api_client, query))["mixed"]["title"] == mixed.title
    assert CaseStudy.objects.get(pk=mixed.pk).api_document != ""


@pytest.mark.parametrize("ordering", [o for o in documents.FAST_ORDERINGS if o])
def test_fast_orderings_match_the_filterset(api_client, ordering):
    for index, title in enumerate(["Beta", "Alpha", "Gamma"]):
        CaseStudyFactory(title=title, published_at=timezone.now() - datetime.timedelta(days=index))
    fast = [item["slug"] for item in _list(api_client, f"?ordering={ordering}")["results"]]
    # A filter that matches everything sends the request down the FilterSet path.
    slow = [item["slug"] for item in _list(api_client, f"?ordering={ordering}&search=e")["results"]]
    assert fast == slow and len(fast) == 3


def test_count_and_links_past_the_last_page(api_client):
    CaseStudyFactory.create_batch(3)
    body = _list(api_client, "?limit=2&offset=10")
    assert body["count"] == 3 and body["results"] == []
    body = _list(api_client, "?limit=2&offset=0")
    assert body["count"] == 3 and len(body["results"]) == 2
    assert body["next"] == "/api/v1/case-studies/?limit=2&offset=2"


def test_drafts_scheduled_and_deleted_case_studies_stay_out_of_the_fast_path(api_client):
    CaseStudyFactory(slug="live")
    CaseStudyFactory(slug="draft", status=PublishStatus.DRAFT)
    CaseStudyFactory(slug="soon", published_at=timezone.now() + datetime.timedelta(days=1))
    gone = CaseStudyFactory(slug="gone")
    gone.deleted_at = timezone.now()
    gone.save()
    body = _list(api_client)
    assert [item["slug"] for item in body["results"]] == ["live"] and body["count"] == 1


def test_refresh_renders_only_missing_documents_when_asked():
    first, second = CaseStudyFactory(), CaseStudyFactory()
    CaseStudy.objects.filter(pk=first.pk).update(api_document="")
    assert documents.case_study_documents_refresh(missing_only=True) == 1
    assert documents.case_study_documents_refresh() == 2
    assert all(cs.api_document for cs in CaseStudy.objects.filter(pk__in=[first.pk, second.pk]))


# --- The default listing: one prepared statement, outside DRF's request cycle ----------------------


@pytest.mark.postgres
def test_the_default_listing_is_one_statement_prepared_and_planned_once(
    api_client, django_assert_num_queries
):
    # Enough rows, with the statistics autovacuum keeps on a real server, for the plan to matter.
    industry = IndustryFactory()
    CaseStudy.objects.bulk_create(CaseStudyFactory.build_batch(100, industry=industry))
    documents.case_study_documents_refresh()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE content_casestudy")
    content_version()  # the cache's bookkeeping is not what is measured
    for _ in range(7):
        with django_assert_num_queries(1):
            assert _list(api_client, "?limit=20")["count"] == 100
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, generic_plans + custom_plans, parameter_types::text[] FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            ["%api_document%"],
        )
        [(name, runs, types)] = cursor.fetchall()
        # The plan PostgreSQL keeps once its trial runs are over uses the partial index of public
        # rows: it can only because the statement says `status = 'published'` itself. Bound as a
        # parameter, the status left every execution to be planned again.
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        values = {"timestamp with time zone": "now()", "smallint": "20", "integer": "20", "bigint": "20"}
        arguments = ", ".join(values.get(t, "'published'") for t in types)
        cursor.execute(f"EXPLAIN EXECUTE {name}({arguments})")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert runs == 7  # prepared once, run seven times
    assert "casestudy_public_order_idx" in plan, plan


@pytest.mark.postgres
def test_the_default_listing_is_the_same_without_prepared_statements(api_client, monkeypatch):
    CaseStudyFactory.create_batch(3)
    prepared = _list(api_client, "?limit=2&offset=1")
    connection.ensure_connection()
    # What DATABASE_PREPARED_STATEMENTS=false leaves: server-side binding, nothing prepared.
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)
    assert _list(api_client, "?limit=2&offset=1") == prepared


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("?limit=2", {}),
        ("?limit=2", {"HTTP_ACCEPT": "*/*"}),
        ("?limit=2&offset=1&ordering=title", {"HTTP_ACCEPT": "application/json"}),
        ("?limit=2", {"HTTP_ACCEPT": "application/json; indent=4"}),
        ("?limit=2", {"HTTP_ACCEPT": "text/html"}),
        ("?format=json", {}),
        ("?limit=2", {"HTTP_ACCEPT": "application/xml"}),  # 406
        ("?format=xml", {}),  # 404
    ],
)
def test_skipping_drfs_request_cycle_changes_nothing_a_client_sees(api_client, monkeypatch, query, headers):
    CaseStudyFactory.create_batch(3)
    content_version()

    def answer():
        response = api_client.get(f"/api/v1/case-studies/{query}", HTTP_CACHE_CONTROL="no-cache", **headers)
        return (
            response.status_code,
            response.content,
            {k: v for k, v in response.items() if k != "X-Request-ID"},
        )

    fast = answer()
    monkeypatch.setattr(CaseStudyListApi, "dispatch", ListAPIView.dispatch)  # the full cycle
    assert fast == answer()
    assert fast[2]["Allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_a_request_that_json_answers_for_sure_is_not_negotiated(api_client, accept):
    CaseStudyFactory.create_batch(2)
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    with mock.patch.object(CaseStudyListApi, "perform_content_negotiation", side_effect=AssertionError):
        assert _list(api_client, "?limit=1", **headers)["count"] == 2


def test_the_default_listing_skips_drfs_request_cycle(api_client):
    CaseStudyFactory.create_batch(2)
    with mock.patch("rest_framework.views.APIView.initial", side_effect=AssertionError("DRF cycle ran")):
        assert _list(api_client)["count"] == 2
