"""
deploy/nginx/indivillage.conf, run by a real nginx on loopback in front of the test server (pytest-django's
live_server: the same database and cache as the test), seen as a visitor behind it sees the site. The
app's PUBLIC_CACHE_* settings are read per response, so each test shortens s-maxage to a few seconds.

Needs Debian's nginx (`apt-get install nginx`; .ci/run installs it): skipped without it, which is a
failure under REQUIRE_POSTGRES=1 (conftest.py).
"""

import gzip
import json
import re
import shutil
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from knox.models import AuthToken

from accounts.tests.factories import UserFactory
from common.models import PublishStatus
from common.testing.stack import NGINX_CONF, Nginx, fetch, wait_until
from content.publishing import publishable_publish, publishable_unpublish
from content.tests.factories import CaseStudyFactory, ServiceFactory

S_MAXAGE = 3
LIST = "/api/v1/case-studies/"
SERVICES = "/api/v1/services/"
HAS_NGINX = bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists())
needs_nginx = pytest.mark.skipif(not HAS_NGINX, reason="nginx is not installed: apt-get install nginx")


@pytest.fixture
def nginx(live_server, settings, tmp_path):
    settings.PUBLIC_CACHE_MAX_AGE = 0
    settings.PUBLIC_CACHE_S_MAXAGE = S_MAXAGE
    settings.PUBLIC_CACHE_STALE_WHILE_REVALIDATE = 0
    port = live_server.url.rsplit(":", 1)[1]
    server = Nginx(tmp_path, f"127.0.0.1:{port}")
    server.start()
    yield server
    server.stop()


def _directives(response) -> dict:
    parts = (part.strip().split("=", 1) for part in response.headers.get("Cache-Control", "").split(","))
    return {part[0].lower(): part[1] if len(part) > 1 else True for part in parts if part[0]}


def _slugs(response) -> set:
    return {row["slug"] for row in response.json()["results"]}


def _log_lines(server: Nginx) -> list[str]:
    return server.access_log.read_text().splitlines()


def _wait_for_log(server: Nginx, lines: int) -> list[str]:
    """nginx logs a request once it is finished, which may be just after the client has its answer."""
    wait_until(
        lambda: len(_log_lines(server)) >= lines,
        within=5,
        what=f"{lines} lines logged",
        log=server.access_log,
    )
    return _log_lines(server)


def _get_until_not_a_hit(server: Nginx):
    answers = []
    wait_until(
        lambda: answers.append(server.get(LIST)) or answers[-1].headers["X-Cache-Status"] != "HIT",
        within=S_MAXAGE + 2,
        what="the entry expired",
        log=server.access_log,
    )
    return answers


@needs_nginx
def test_a_public_list_is_stored_by_nginx_and_served_again_with_the_same_etag(nginx):
    CaseStudyFactory(slug="stored")

    first = nginx.get(LIST)
    second = nginx.get(LIST)
    head = nginx.get(LIST, method="HEAD")

    assert first.status_code == 200
    assert first.headers["X-Cache-Status"] == "MISS"
    assert _directives(first) == {
        "public": True,
        "max-age": "0",
        "s-maxage": str(S_MAXAGE),
        "stale-while-revalidate": "0",
    }
    assert re.fullmatch(r'"[^"]+"', first.headers["ETag"])
    assert second.status_code == 200
    assert second.headers["X-Cache-Status"] == "HIT"
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.text == first.text
    assert _slugs(second) == {"stored"}
    assert (head.status_code, head.headers["X-Cache-Status"]) == (200, "HIT")
    # Only the miss reached the app.
    assert [line.split(" upstream=")[1].split()[0] for line in _wait_for_log(nginx, 3)] == ["200", "-", "-"]


@needs_nginx
def test_a_client_if_none_match_is_answered_304_by_nginx_itself(nginx):
    CaseStudyFactory()
    etag = nginx.get(LIST).headers["ETag"]

    answer = nginx.get(LIST, {"If-None-Match": etag})

    assert answer.status_code == 304
    assert answer.headers["X-Cache-Status"] == "HIT"
    assert answer.headers["ETag"] == etag
    assert _directives(answer)["s-maxage"] == str(S_MAXAGE)
    assert "Accept" in ", ".join(answer.headers.get_all("Vary"))
    assert "cache=HIT upstream=-" in _wait_for_log(nginx, 2)[-1]


@needs_nginx
@pytest.mark.parametrize("change", ["publish", "unpublish"])
def test_a_publish_or_unpublish_is_visible_through_nginx_within_s_maxage(nginx, live_server, change):
    editor = UserFactory()
    status = PublishStatus.DRAFT if change == "publish" else PublishStatus.PUBLISHED
    story = CaseStudyFactory(slug="changing", status=status)
    before = nginx.get(LIST)
    assert ("changing" in _slugs(before)) is (change == "unpublish")

    (publishable_publish if change == "publish" else publishable_unpublish)(instance=story, actor=editor)

    # The app's own cache is retired on commit: the app itself answers the new list at once ...
    direct = fetch(live_server.url + LIST, timeout=30)
    assert ("changing" in _slugs(direct)) is (change == "publish")
    # ... while nginx serves its stored copy until s-maxage has passed (nginx counts whole seconds) ...
    stored = nginx.get(LIST)
    assert stored.headers["X-Cache-Status"] == "HIT"
    assert stored.text == before.text
    # ... and then revalidates it: the ETag has changed, so the app sends the new list.
    wait_until(
        lambda: ("changing" in _slugs(nginx.get(LIST))) is (change == "publish"),
        within=S_MAXAGE + 2,
        what=f"the {change} seen through nginx",
        log=nginx.access_log,
    )
    assert nginx.get(LIST).headers["X-Cache-Status"] == "HIT"


@needs_nginx
def test_an_expired_entry_is_revalidated_with_its_etag_and_the_app_answers_304(nginx):
    CaseStudyFactory()
    first = nginx.get(LIST)

    answers = _get_until_not_a_hit(nginx)

    assert answers[-1].headers["X-Cache-Status"] == "REVALIDATED"
    assert answers[-1].headers["ETag"] == first.headers["ETag"]
    last = _wait_for_log(nginx, 1 + len(answers))[-1]
    assert "cache=REVALIDATED upstream=304" in last, last
    again = nginx.get(LIST)
    assert again.headers["X-Cache-Status"] == "HIT"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.text == first.text


@needs_nginx
def test_the_apps_stale_while_revalidate_serves_the_stale_copy_while_nginx_revalidates(nginx, settings):
    settings.PUBLIC_CACHE_STALE_WHILE_REVALIDATE = 30
    CaseStudyFactory()
    first = nginx.get(LIST)
    assert _directives(first)["stale-while-revalidate"] == "30"

    answers = _get_until_not_a_hit(nginx)

    # The expired copy was served at once, and a background request (a subrequest, logged too)
    # revalidated it: the app answered 304.
    assert answers[-1].headers["X-Cache-Status"] == "STALE"
    assert answers[-1].text == first.text
    lines = _wait_for_log(nginx, 2 + len(answers))
    assert "cache=STALE upstream=-" in lines[-1], lines[-1]
    assert "cache=REVALIDATED upstream=304" in lines[-2], lines[-2]
    assert nginx.get(LIST).headers["X-Cache-Status"] == "HIT"


@needs_nginx
def test_json_is_gzipped_by_nginx_per_client_from_the_one_stored_copy(nginx):
    CaseStudyFactory.create_batch(5)
    plain = nginx.get(LIST)
    request = urllib.request.Request(nginx.base_url + LIST, headers={"Accept-Encoding": "gzip"})

    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
        body = gzip.decompress(answer.read())
        headers = answer.headers

    assert headers["Content-Encoding"] == "gzip"
    assert headers["X-Cache-Status"] == "HIT"
    assert "Accept-Encoding" in ", ".join(headers.get_all("Vary"))
    assert json.loads(body) == plain.json()


@needs_nginx
def test_requests_with_a_token_or_a_session_are_never_served_from_or_stored_in_nginxs_cache(nginx):
    CaseStudyFactory()
    _, token = AuthToken.objects.create(UserFactory())
    assert nginx.get(LIST).headers["X-Cache-Status"] == "MISS"
    assert nginx.get(LIST).headers["X-Cache-Status"] == "HIT"

    for headers in ({"Authorization": f"Token {token}"}, {"Cookie": "sessionid=anything"}):
        for _ in range(2):
            answer = nginx.get(LIST, headers)
            assert answer.status_code == 200, headers
            assert answer.headers["X-Cache-Status"] == "BYPASS", headers


@needs_nginx
@pytest.mark.parametrize(
    ("query", "headers"),
    [("?format=api", {}), ("", {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})],
    ids=["format-api", "accept-html"],
)
def test_the_browsable_api_is_never_stored_by_nginx(nginx, query, headers):
    # The services list: the case-study list's browsable API is another part of the issue.
    ServiceFactory()
    assert nginx.get(SERVICES, {"Accept": "application/json"}).headers["X-Cache-Status"] == "MISS"

    answers = [nginx.get(SERVICES + query, headers) for _ in range(2)]

    for answer in answers:
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/html")
        assert "public" not in _directives(answer)
        assert answer.headers["X-Cache-Status"] == "MISS"
    # The JSON copy is still there, untouched, under its own key.
    json_again = nginx.get(SERVICES, {"Accept": "application/json"})
    assert (json_again.headers["X-Cache-Status"], json_again.headers["Content-Type"]) == (
        "HIT",
        "application/json",
    )


def test_nginx_serves_the_public_media_and_nothing_beside_them(nginx, settings, tmp_path):
    # The fixture's nginx has NGINX_MEDIA_ROOT at tmp_path/media, this test's MEDIA_ROOT (conftest.py).
    rendition = Path(settings.MEDIA_ROOT) / "library" / "abc" / "400.webp"
    rendition.parent.mkdir(parents=True)
    rendition.write_text("pixels")
    secret = tmp_path / "private" / "library" / "abc.jpg"
    secret.parent.mkdir(parents=True)
    secret.write_text("the original with its GPS position")

    served = nginx.get("/media/library/abc/400.webp")
    assert (served.status_code, served.text) == (200, "pixels")
    assert served.headers["Cache-Control"] == "public, max-age=2592000"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Cache-Status" not in served.headers  # from the volume, not through the app and its cache
    # A climb out of /media/ is not served from the volume: nginx hands the raw path to the app (here the
    # test server, whose own media handler refuses it), and the private original never comes back.
    for path in ("/media/../private/library/abc.jpg", "/media/%2e%2e/private/library/abc.jpg"):
        refused = nginx.get(path)
        assert refused.status_code != 200 and "GPS" not in refused.text, (path, refused.status_code)
    assert nginx.get("/media/library/abc/1200.webp").status_code == 404


def test_nginx_takes_an_upload_as_large_as_the_app_does_and_not_much_larger():
    megabytes = int(re.search(r"client_max_body_size (\d+)m;", NGINX_CONF.read_text()).group(1))
    # The multipart envelope of one file is a few hundred bytes; the app answers its own 413 above that.
    assert 0 < megabytes * 1024 * 1024 - django_settings.UPLOAD_MAX_BYTES <= 2 * 1024 * 1024


def test_each_public_cache_setting_is_read_per_response():
    # Guards the fixture above: it shortens s-maxage through these names.
    for name in ("PUBLIC_CACHE_MAX_AGE", "PUBLIC_CACHE_S_MAXAGE", "PUBLIC_CACHE_STALE_WHILE_REVALIDATE"):
        assert isinstance(getattr(django_settings, name), int), name
