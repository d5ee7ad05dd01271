import secrets
from unittest import mock

import pytest
from django.core.management import call_command

from common import caching
from content.tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def dead_redis():
    from django_redis.cache import RedisCache

    return RedisCache(
        "redis://127.0.0.1:1/0",
        {"OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.05, "SOCKET_TIMEOUT": 0.05, "IGNORE_EXCEPTIONS": True}},
    )


def test_second_read_comes_from_the_cache_without_queries(api_client, django_assert_num_queries):
    ServiceFactory(slug="cached")
    first = api_client.get("/api/v1/services/")
    assert first.status_code == 200 and first["ETag"]
    with django_assert_num_queries(0):
        second = api_client.get("/api/v1/services/")
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]


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
    assert response["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert response["Vary"] == "Accept"


def test_a_write_retires_cached_pages_on_commit(api_client, django_capture_on_commit_callbacks):
    ServiceFactory(slug="first")
    before = api_client.get("/api/v1/services/")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ServiceFactory(slug="second")
    assert callbacks, "the write queued no cache bump"
    after = api_client.get("/api/v1/services/", HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert {s["slug"] for s in after.json()["results"]} == {"first", "second"}


def test_no_bump_before_commit(api_client, django_capture_on_commit_callbacks):
    version = caching.content_version()
    with django_capture_on_commit_callbacks(execute=False):
        ServiceFactory()
        assert caching.content_version() == version


def test_a_lost_version_starts_again_above_every_version_issued(api_client):
    # A flush or an eviction must not hand out a number (and so an ETag) that a client may still hold,
    # even after a burst of bumps (one per row of a bulk save).
    from django.core.cache import cache

    caching.content_version()
    for _ in range(2000):
        caching.content_version_bump()
    last = caching.content_version()
    cache.delete(caching.VERSION_KEY)
    assert caching.content_version() > last


def test_each_url_has_its_own_etag(api_client):
    ServiceFactory()
    a = api_client.get("/api/v1/services/")["ETag"]
    b = api_client.get("/api/v1/services/?limit=5")["ETag"]
    assert a != b


def test_browsable_api_is_not_cached(api_client):
    ServiceFactory()
    response = api_client.get("/api/v1/services/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert "ETag" not in response and b"<html" in response.content.lower()


def test_with_the_cache_down_reads_still_answer_uncached(api_client):
    ServiceFactory(slug="still-here")
    with mock.patch.object(caching, "cache", dead_redis()):
        response = api_client.get("/api/v1/services/")
    assert response.status_code == 200
    assert [s["slug"] for s in response.json()["results"]] == ["still-here"]
    assert "ETag" not in response


def test_warm_cache_fills_every_public_list_and_detail(api_client, django_assert_num_queries, capsys):
    ServiceFactory(slug="warm")
    call_command("warm_cache")
    with django_assert_num_queries(0):
        assert api_client.get("/api/v1/services/").status_code == 200
        assert api_client.get("/api/v1/services/warm/").status_code == 200
        assert api_client.get("/api/v1/impact-metrics/summary/").status_code == 200
    assert "warm" in capsys.readouterr().out.lower()


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


def test_the_middleware_answers_hits_before_the_view_layer(api_client, django_assert_num_queries):
    ServiceFactory()
    api_client.get("/api/v1/services/")
    with (
        mock.patch("content.api.views.ServiceListApi.as_view", side_effect=AssertionError),
        mock.patch("rest_framework.views.APIView.dispatch", side_effect=AssertionError("DRF ran")),
        django_assert_num_queries(0),
    ):
        assert api_client.get("/api/v1/services/").status_code == 200


def _uncached_services(request):
    from django.http import JsonResponse

    return JsonResponse({"served_by": "another urlconf"})


def test_the_middleware_follows_a_urlconf_change(api_client, settings):
    # The middleware remembers which paths are cached views; a new URLconf must not inherit that.
    ServiceFactory()
    api_client.get("/api/v1/services/")
    assert api_client.get("/api/v1/services/").has_header("ETag")  # a hit
    settings.ROOT_URLCONF = "common.tests.urls_without_public_cache"
    response = api_client.get("/api/v1/services/")
    assert response.json() == {"served_by": "another urlconf"}
    assert not response.has_header("ETag")


def _session_middleware_calls():
    from django.contrib.sessions.middleware import SessionMiddleware

    return mock.patch.object(
        SessionMiddleware, "process_request", autospec=True, side_effect=SessionMiddleware.process_request
    )


def test_a_miss_that_will_be_stored_skips_the_middleware_a_hit_skips(api_client, django_assert_num_queries):
    # Sessions, CommonMiddleware, CSRF, auth and messages have nothing to add to a public page: the miss
    # that fills the cache is served past them, as the hits after it are.
    ServiceFactory(slug="direct")
    with _session_middleware_calls() as session:
        miss = api_client.get("/api/v1/services/")
    assert session.call_count == 0
    assert miss.status_code == 200 and [s["slug"] for s in miss.json()["results"]] == ["direct"]
    assert miss.wsgi_request.resolver_match.url_name == "service-list"
    with django_assert_num_queries(0):
        assert api_client.get("/api/v1/services/").content == miss.content  # it was stored


def test_a_miss_and_the_hit_it_stored_carry_the_same_headers(api_client, django_assert_num_queries):
    ServiceFactory()
    miss = api_client.get("/api/v1/services/")
    with django_assert_num_queries(0):  # a hit indeed
        hit = api_client.get("/api/v1/services/")
    shared = ("Content-Type", "Content-Length", "ETag", "Cache-Control", "Vary", "X-Frame-Options")
    assert [miss[h] for h in shared] == [hit[h] for h in shared]
    assert hit["Content-Length"] == str(len(hit.content))  # not sent chunked
    assert hit["X-Frame-Options"] == "DENY"


def test_a_miss_with_the_cache_down_goes_through_the_whole_chain(api_client):
    # Nothing will be stored: the page is served like any other (and, with a replica, routed like one).
    ServiceFactory(slug="uncached")
    with mock.patch.object(caching, "cache", dead_redis()), _session_middleware_calls() as session:
        response = api_client.get("/api/v1/services/")
    assert session.call_count == 1
    assert [s["slug"] for s in response.json()["results"]] == ["uncached"]
    assert "ETag" not in response


def test_with_atomic_requests_a_miss_is_left_to_djangos_handler(api_client, monkeypatch):
    # Django's handler wraps such a view in a transaction; the middleware would not.
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
    ServiceFactory(slug="atomic")
    with _session_middleware_calls() as session:
        response = api_client.get("/api/v1/services/")
    assert session.call_count == 1
    assert [s["slug"] for s in response.json()["results"]] == ["atomic"]
    assert response["ETag"]  # still stored, by the view's public_cache wrapper


def test_a_miss_for_an_unknown_slug_is_still_a_json_404(api_client):
    with _session_middleware_calls() as session:
        response = api_client.get("/api/v1/services/no-such-service/")
    assert session.call_count == 0
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
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
    from django.core.cache import cache

    ServiceFactory(slug="listed")
    plain = api_client.get(path)
    assert plain.status_code == 200 and plain["ETag"]
    with mock.patch.object(caching.cache, "set", wraps=caching.cache.set) as stored:
        for _ in range(50):
            response = api_client.get(path, {"junk": secrets.token_hex(1024)})  # 2 KB each
            assert response.status_code == 200
            assert response.json() == plain.json()
            assert "ETag" not in response
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
    assert first.status_code == 200 and first["ETag"]
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

    understood = caching.query_params_understood(caching.public_cache(View.as_view()))
    assert understood == {
        "format",
        "limit",
        "offset",
        "published_after",
        "published_before",
        "search",
        "ordering",
    }
    assert caching.query_params_understood(caching.public_cache(lambda request: None)) == frozenset()
