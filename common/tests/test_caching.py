import secrets
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.management import call_command

from common import caching
from content import publishing
from content.models import Service
from content.tests.caching import public_cache_retired_by
from content.tests.factories import CaseStudyFactory, ServiceFactory

pytestmark = pytest.mark.django_db

PUBLIC = "public, max-age=0, s-maxage=10, stale-while-revalidate=30"


def dead_redis():
    from django_redis.cache import RedisCache

    return RedisCache(
        "redis://127.0.0.1:1/0",
        {"OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.05, "SOCKET_TIMEOUT": 0.05, "IGNORE_EXCEPTIONS": True}},
    )


def test_second_read_comes_from_the_cache_without_queries(api_client, django_assert_num_queries):
    ServiceFactory(slug="cached")
    first = api_client.get("/api/v1/services/")
    assert first.status_code == 200 and first["ETag"].startswith('"')
    assert first["Cache-Control"] == PUBLIC
    assert first["Vary"] == "Accept"
    with django_assert_num_queries(0):
        second = api_client.get("/api/v1/services/")
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]
    assert second["Cache-Control"] == PUBLIC


def test_the_max_ages_come_from_settings(api_client, settings):
    settings.PUBLIC_CACHE_MAX_AGE, settings.PUBLIC_CACHE_S_MAXAGE = 5, 60
    settings.PUBLIC_CACHE_STALE_WHILE_REVALIDATE = 120
    assert api_client.get("/api/v1/industries/")["Cache-Control"] == (
        "public, max-age=5, s-maxage=60, stale-while-revalidate=120"
    )


def test_if_none_match_answers_304_without_running_the_view(api_client, django_assert_num_queries):
    ServiceFactory()
    etag = api_client.get("/api/v1/services/")["ETag"]
    with (
        mock.patch("content.selectors.service_list", side_effect=AssertionError("view ran")),
        django_assert_num_queries(0),
    ):
        response = api_client.get("/api/v1/services/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response.content == b""
    # The headers its 200 would carry for caches (RFC 9110, 15.4.5).
    assert response["Cache-Control"] == PUBLIC
    assert response["Vary"] == "Accept"


def test_a_publish_retires_cached_pages_on_commit(api_client, django_capture_on_commit_callbacks):
    ServiceFactory(slug="first")
    draft = ServiceFactory(slug="second", status="draft", published_at=None)
    before = api_client.get("/api/v1/services/")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publishing.publishable_publish(instance=draft, actor=None)
    # Not before the commit: a page rendered in between would be stored under the new version.
    assert {s["slug"] for s in api_client.get("/api/v1/services/").json()["results"]} == {"first"}
    for callback in callbacks:
        callback()
    after = api_client.get("/api/v1/services/", HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert {s["slug"] for s in after.json()["results"]} == {"first", "second"}


@pytest.mark.parametrize(
    "write",
    [
        lambda s: publishing.content_save(instance=s, actor=None),
        lambda s: publishing.publishable_unpublish(instance=s, actor=None),
        lambda s: publishing.publishable_trash(instance=s, actor=None),
        lambda s: publishing.content_delete(instance=s, actor=None),
    ],
    ids=["save", "unpublish", "trash", "delete"],
)
def test_every_content_service_retires_the_public_cache(
    api_client, django_capture_on_commit_callbacks, write
):
    other = ServiceFactory(slug="other")
    assert public_cache_retired_by(api_client, lambda: write(other), django_capture_on_commit_callbacks)


def test_a_write_past_the_services_is_not_seen_until_the_version_changes(
    api_client, django_capture_on_commit_callbacks
):
    # Invalidation is explicit: the services and the bulk paths set a new version, nothing else does.
    assert not public_cache_retired_by(api_client, lambda: None, django_capture_on_commit_callbacks)
    caching.content_version_bump()
    assert api_client.get("/api/v1/services/").json()["results"][0]["name"] == "Cache probe after"


def test_an_unchanged_page_keeps_its_etag_across_versions(api_client, django_assert_num_queries):
    # The ETag is the body's: after a new version the view runs again, and a client (or a proxy
    # revalidating) that holds the same content still gets a 304.
    ServiceFactory()
    etag = api_client.get("/api/v1/services/")["ETag"]
    caching.content_version_bump()
    again = api_client.get("/api/v1/services/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag


def test_each_url_has_its_own_entry_and_etag(api_client):
    ServiceFactory(slug="a")
    ServiceFactory(slug="b")
    one = api_client.get("/api/v1/services/?limit=1")
    two = api_client.get("/api/v1/services/?limit=2")
    assert one.json()["results"] != two.json()["results"]
    assert one["ETag"] != two["ETag"]
    assert api_client.get("/api/v1/services/?limit=1").content == one.content


def test_an_accept_header_of_its_own_gets_its_own_entry(api_client):
    ServiceFactory()
    plain = api_client.get("/api/v1/services/", HTTP_ACCEPT="application/json")
    indented = api_client.get("/api/v1/services/", HTTP_ACCEPT="application/json; indent=4")
    assert b"\n" not in plain.content and b"\n    " in indented.content
    assert api_client.get("/api/v1/services/", HTTP_ACCEPT="*/*").content == plain.content
    assert api_client.get("/api/v1/services/", HTTP_ACCEPT="application/json; indent=4").content == (
        indented.content
    )


def test_browsable_api_is_never_public_nor_stored(api_client):
    ServiceFactory()
    with mock.patch.object(caching.cache, "set", wraps=caching.cache.set) as stored:
        response = api_client.get("/api/v1/services/?format=api")
        api_client.get("/api/v1/services/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    assert [c.args[0] for c in stored.call_args_list if c.args[0].startswith("page:")] == []


def test_with_the_cache_down_reads_still_answer_uncached(api_client):
    ServiceFactory(slug="up")
    with mock.patch.object(caching, "cache", dead_redis()):
        response = api_client.get("/api/v1/services/")
        assert response.status_code == 200
        assert [s["slug"] for s in response.json()["results"]] == ["up"]
        # Proxies may still keep it, and clients revalidate it.
        assert response["Cache-Control"] == PUBLIC and response["ETag"]
        assert api_client.get("/api/v1/services/", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_warm_cache_fills_every_public_list_and_detail(api_client, django_assert_num_queries, capsys):
    ServiceFactory(slug="warm")
    CaseStudyFactory(slug="study")
    call_command("warm_cache")
    with django_assert_num_queries(0):
        assert api_client.get("/api/v1/services/").status_code == 200
        assert api_client.get("/api/v1/services/warm/").status_code == 200
        assert api_client.get("/api/v1/case-studies/study/").status_code == 200
        assert api_client.get("/api/v1/impact-metrics/summary/").status_code == 200
    assert "Warmed 8 pages." in capsys.readouterr().out


def test_a_publish_warms_the_lists_and_its_page(
    api_client, settings, django_capture_on_commit_callbacks, django_assert_num_queries
):
    settings.PUBLIC_CACHE_WARM_AFTER_PUBLISH = True
    draft = CaseStudyFactory(slug="new-study", status="draft", published_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        publishing.publishable_publish(instance=draft, actor=None)
    with django_assert_num_queries(0):
        listed = api_client.get("/api/v1/case-studies/")
        page = api_client.get("/api/v1/case-studies/new-study/")
        api_client.get("/api/v1/services/")
        api_client.get("/api/v1/impact-stories/")
    assert [c["slug"] for c in listed.json()["results"]] == ["new-study"]
    assert page.json()["slug"] == "new-study"


def test_a_warm_for_an_older_version_stops(api_client):
    from common.tasks import public_cache_warm

    version = caching.content_version()
    caching.content_version_bump()
    assert public_cache_warm.delay(["/api/v1/services/"], version=version).get() == {"skipped": 1}
    assert public_cache_warm.delay(["/api/v1/services/"], version=caching.content_version()).get() == {
        "warmed": 1,
        "failed": 0,
    }


def test_a_cache_hit_still_carries_security_headers_and_a_request_id(api_client):
    ServiceFactory()
    api_client.get("/api/v1/services/")
    hit = api_client.get("/api/v1/services/", HTTP_X_REQUEST_ID="trace-123")
    assert hit.status_code == 200 and hit["ETag"]
    assert hit["X-Request-ID"] == "trace-123"
    assert hit["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in hit


def test_a_cache_hit_still_refuses_a_host_it_does_not_serve(api_client, settings):
    ServiceFactory()
    api_client.get("/api/v1/services/")
    settings.ALLOWED_HOSTS = ["indivillage.com"]
    response = api_client.get("/api/v1/services/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert b"count" not in response.content


def test_a_hit_is_answered_before_the_view_layer_and_a_miss_goes_down_the_chain(
    api_client, django_assert_num_queries
):
    from django.contrib.sessions.middleware import SessionMiddleware

    ServiceFactory()
    real = SessionMiddleware.process_request
    with mock.patch.object(SessionMiddleware, "process_request", autospec=True, side_effect=real) as session:
        api_client.get("/api/v1/services/")
        assert session.call_count == 1  # the miss: the normal chain, down to the view
        with (
            mock.patch("rest_framework.views.APIView.dispatch", side_effect=AssertionError("DRF ran")),
            django_assert_num_queries(0),
        ):
            assert api_client.get("/api/v1/services/").status_code == 200
        assert session.call_count == 1  # the hit: answered above the session middleware


def test_a_miss_for_an_unknown_slug_is_a_json_404_never_public(api_client):
    response = api_client.get("/api/v1/services/no-such-service/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "public" not in response.get("Cache-Control", "")
    assert response["Content-Length"] == str(len(response.content))


UNKNOWN_PARAMETER_PATHS = [
    "/api/v1/services/",
    "/api/v1/services/listed/",
    "/api/v1/case-studies/",
    "/api/v1/impact-stories/",
    "/api/v1/impact-metrics/summary/",
]


@pytest.mark.parametrize("path", UNKNOWN_PARAMETER_PATHS)
def test_unknown_query_parameters_are_served_but_never_stored(api_client, path):
    ServiceFactory(slug="listed")
    plain = api_client.get(path)
    assert plain.status_code == 200 and plain["Cache-Control"] == PUBLIC
    with mock.patch.object(caching.cache, "set", wraps=caching.cache.set) as stored:
        for _ in range(50):
            response = api_client.get(path, {"junk": secrets.token_hex(1024)})  # 2 KB each
            assert response.status_code == 200
            assert response.json() == plain.json()
            # No cache, ours, a proxy's or a CDN's, keeps one copy per junk value.
            assert response["Cache-Control"] == "no-cache"
    assert [c.args[0] for c in stored.call_args_list if c.args[0].startswith("page:")] == []
    if hasattr(cache, "keys"):  # Redis: count what is really there
        assert len(cache.keys("page:*")) == 1


KNOWN_PARAMETER_PATHS = [
    "/api/v1/services/?limit=5&offset=0&format=json",
    "/api/v1/case-studies/?ordering=title&limit=5",
    "/api/v1/case-studies/?industry=agritech&service=listed&search=label+data&ordering=-title",
    "/api/v1/impact-stories/?country=IN&search=women&ordering=beneficiaries&limit=2",
    "/api/v1/impact-metrics/summary/?period_start=2024-01-01&period_end=2024-12-31&country=IN",
]


@pytest.mark.parametrize("path", KNOWN_PARAMETER_PATHS)
def test_parameters_the_view_understands_are_still_cached(api_client, path, django_assert_num_queries):
    ServiceFactory(slug="listed")
    first = api_client.get(path)
    assert first.status_code == 200 and first["Cache-Control"] == PUBLIC
    with django_assert_num_queries(0):
        hit = api_client.get(path)
    assert hit.content == first.content and hit["ETag"] == first["ETag"]


def test_the_parameters_come_from_the_views_declarations():
    import django_filters
    from django_filters.rest_framework import DjangoFilterBackend
    from rest_framework import filters, generics

    from content.models import CaseStudy

    class RangeFilterSet(django_filters.FilterSet):
        published = django_filters.DateFromToRangeFilter(field_name="published_at")

        class Meta:
            model = CaseStudy
            fields = ["published"]

    class View(generics.ListAPIView):
        filterset_class = RangeFilterSet
        filter_backends = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]
        search_fields = ["title"]

    understood = caching.query_params_understood(View)
    assert understood == {
        "format",
        "limit",
        "offset",
        "published_after",
        "published_before",
        "search",
        "ordering",
    }


def test_a_lost_version_starts_a_new_one(api_client):
    ServiceFactory()
    first = api_client.get("/api/v1/services/")
    version = caching.content_version()
    cache.delete(caching.VERSION_KEY)
    assert caching.content_version() not in (None, version)
    assert api_client.get("/api/v1/services/").content == first.content
    assert Service.objects.count() == 1


def test_a_new_release_of_the_code_never_serves_the_old_codes_pages(
    api_client, monkeypatch, django_assert_num_queries
):
    # A deploy that changes a serializer: the pages stored by the old code are not served by the new.
    ServiceFactory()
    api_client.get("/api/v1/services/")
    with django_assert_num_queries(0):
        api_client.get("/api/v1/services/")
    monkeypatch.setattr(caching, "code_fingerprint", lambda: "the-next-release")
    with django_assert_num_queries(3):  # rendered again: the count, the page, its features
        api_client.get("/api/v1/services/")


def test_the_code_fingerprint_covers_the_serializers(monkeypatch):
    from pathlib import Path

    before = caching.code_fingerprint.__wrapped__()
    read_bytes = Path.read_bytes

    def edited(path):
        data = read_bytes(path)
        return (
            data + b"\n# a new field" if path.name == "serializers.py" and "content" in path.parts else data
        )

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert caching.code_fingerprint.__wrapped__() != before
