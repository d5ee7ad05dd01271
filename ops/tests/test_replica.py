"""
The read replica router and its pins, against a second real database standing in for the replica
(config/settings/test.py): rows written straight into one database or the other show which one the
code read. Both databases stay apart; nothing replicates between them here.
"""

import datetime

import pytest
from django.db import OperationalError, connections, router, transaction
from django.http import JsonResponse
from django.test import Client, RequestFactory
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import UserFactory
from content.models import Service
from content.tests.factories import ServiceFactory
from ops import routers
from ops.middleware import ReplicaPinMiddleware
from ops.models import Heartbeat
from ops.routers import PIN_COOKIE, ReplicaRouter, replica_reads
from submissions.models import FormSubmission
from uploads.models import FileUpload

# Transactional: a TestCase would wrap each test in a transaction, which (rightly) sends every read to
# the primary.
pytestmark = pytest.mark.django_db(databases=["default", "replica"], transaction=True)

SERVICES = "/api/v1/services/"
DEMO = "/api/v1/submissions/demo-request/"
UPLOADS = "/api/v1/uploads/"
# The public cache would answer a repeated GET without reading any database.
FRESH = {"HTTP_CACHE_CONTROL": "no-cache"}
PIN = "ops.middleware.ReplicaPinMiddleware"


@pytest.fixture
def replica_on(settings):
    # Django rebuilds its router list when DATABASE_ROUTERS changes (django.test.signals).
    settings.DATABASE_ROUTERS = ["ops.routers.ReplicaRouter"]
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("django.contrib.sessions.middleware.SessionMiddleware"), PIN)
    settings.MIDDLEWARE = middleware
    settings.REPLICA_PIN_SECONDS = 5


@pytest.fixture
def clock(monkeypatch):
    """The pins' clock, moved by hand: `clock.now += 6`."""

    class Clock:
        now = 1_800_000_000.0

    monkeypatch.setattr(routers, "_now", lambda: Clock.now)
    return Clock


@pytest.fixture
def split():
    """One published service in each database only: which one a read sees says where it went."""
    ServiceFactory(slug="on-primary", name="On primary")
    ServiceFactory.build(slug="on-replica", name="On replica").save(using="replica")


@pytest.fixture
def uncached(monkeypatch):
    """
    No content version, so no public page is stored: the list's reads then follow the pins. (A page
    that will be stored always comes from the primary: test_a_public_page_for_the_cache_is_read_from_the_primary.)
    """
    monkeypatch.setattr("common.caching._version_from", lambda values: None)


def slugs(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {item["slug"] for item in response.json()["results"]}


def demo(services):
    return {
        "name": "Ravi Shankar",
        "email": "ravi@example.com",
        "company": "Blue Lotus AI",
        "preferred_date": (timezone.now() + datetime.timedelta(days=7)).date().isoformat(),
        "services": services,
    }


def test_the_router_is_live_only_where_switched_on(settings, split):
    assert router.db_for_read(Service) == "default"
    settings.DATABASE_ROUTERS = ["ops.routers.ReplicaRouter"]
    with replica_reads():
        assert router.db_for_read(Service) == "replica"
        assert {s.slug for s in Service.objects.all()} == {"on-replica"}


def test_a_plain_get_reads_the_replica(replica_on, split, uncached):
    response = APIClient().get(SERVICES, **FRESH)
    assert slugs(response) == {"on-replica"}
    assert PIN_COOKIE not in response.cookies


def _replica_fails(execute, sql, params, many, context):
    raise OperationalError("connection to server at replica failed: Connection refused")


def test_a_replica_that_fails_a_read_rests_and_reads_go_to_the_primary(
    replica_on, split, uncached, clock, monkeypatch, settings
):
    monkeypatch.setattr(routers, "_replica_rest_until", 0.0)
    settings.REPLICA_RETRY_SECONDS = 30
    with connections["replica"].execute_wrapper(_replica_fails):
        failed = APIClient().get(SERVICES, **FRESH)
        assert failed.status_code == 503 and failed["Retry-After"]
        assert slugs(APIClient().get(SERVICES, **FRESH)) == {"on-primary"}  # resting: the primary
        clock.now += 31
        assert APIClient().get(SERVICES, **FRESH).status_code == 503  # tried again: still down
    assert slugs(APIClient().get(SERVICES, **FRESH)) == {"on-primary"}  # resting again
    clock.now += 31
    assert slugs(APIClient().get(SERVICES, **FRESH)) == {"on-replica"}  # back


def test_a_failure_of_a_request_that_read_only_the_primary_does_not_rest_the_replica(
    replica_on, split, uncached, monkeypatch
):
    monkeypatch.setattr(routers, "_replica_rest_until", 0.0)
    with connections["default"].execute_wrapper(_replica_fails):
        client = APIClient()
        # A POST reads and writes only the primary.
        assert client.post(DEMO, demo(["on-primary"]), format="json").status_code == 503
    assert not routers.replica_resting()


def test_a_public_page_for_the_cache_is_read_from_the_primary(replica_on, split):
    """Stored for everyone until the next write, a page read from a lagging replica would stay stale."""
    first = APIClient().get(SERVICES)
    assert slugs(first) == {"on-primary"} and first.has_header("ETag")
    Service.objects.using("default").filter(slug="on-primary").update(name="Changed, no bump")
    again = APIClient().get(SERVICES)  # the stored page
    assert again.json()["results"][0]["name"] == "On primary"


def test_a_post_reads_and_writes_the_primary(replica_on, split):
    client = APIClient()
    # The slugs are checked by a read inside the POST: only the primary knows "on-primary".
    refused = client.post(DEMO, demo(["on-replica"]), format="json")
    assert refused.status_code == 400, refused.content
    assert "services" in refused.json()["error"]["fields"]

    created = client.post(DEMO, demo(["on-primary"]), format="json")
    assert created.status_code == 201, created.content
    submission_id = created.json()["id"]
    assert FormSubmission.objects.using("default").filter(pk=submission_id).exists()
    assert not FormSubmission.objects.using("replica").exists()


def test_the_browser_that_wrote_reads_the_primary_until_the_pin_expires(replica_on, split, clock, uncached):
    browser, other = APIClient(), APIClient()
    assert slugs(browser.get(SERVICES, **FRESH)) == {"on-replica"}

    written = browser.post(DEMO, demo(["on-primary"]), format="json")
    assert written.status_code == 201
    cookie = written.cookies[PIN_COOKIE]
    assert cookie["max-age"] == 5 and cookie["httponly"]

    assert slugs(browser.get(SERVICES, **FRESH)) == {"on-primary"}
    assert slugs(other.get(SERVICES, **FRESH)) == {"on-replica"}  # the pin is this browser's only
    clock.now += 4.9
    assert slugs(browser.get(SERVICES, **FRESH)) == {"on-primary"}
    clock.now += 0.2
    assert slugs(browser.get(SERVICES, **FRESH)) == {"on-replica"}


def test_a_forged_or_stale_pin_cookie_is_ignored(replica_on, split, clock, uncached):
    client = APIClient()
    client.cookies[PIN_COOKIE] = f"{clock.now + 3600:.3f}:not-the-signature"
    assert slugs(client.get(SERVICES, **FRESH)) == {"on-replica"}

    # A genuine value whose time has passed: the signature cannot be moved onto a later one.
    stale = routers.pin_cookie_value(clock.now - 1)
    client.cookies[PIN_COOKIE] = stale
    assert slugs(client.get(SERVICES, **FRESH)) == {"on-replica"}
    client.cookies[PIN_COOKIE] = stale.replace(f"{clock.now - 1:.3f}", f"{clock.now + 60:.3f}")
    assert slugs(client.get(SERVICES, **FRESH)) == {"on-replica"}


@pytest.fixture
def token_user():
    """A user on both databases (as replication would have it), with a token on the primary only."""
    user = UserFactory(email="asha@example.com")
    User.objects.using("replica").bulk_create([User.objects.get(pk=user.pk)])
    FileUpload.objects.create(user=user, filename="primary.csv", size=1, status="completed")
    FileUpload.objects.using("replica").create(
        user_id=user.pk, filename="replica.csv", size=1, status="completed"
    )
    _, token = AuthToken.objects.create(user=user)
    return user, token


def token_client(token) -> APIClient:
    # A fresh client each time: no cookie jar, as an API client keeps none.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def filenames(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {item["filename"] for item in response.json()["results"]}


def test_a_token_user_who_wrote_reads_the_primary_until_the_pin_expires(replica_on, token_user, clock):
    user, token = token_user
    other = UserFactory(email="other@example.com")
    User.objects.using("replica").bulk_create([User.objects.get(pk=other.pk)])
    FileUpload.objects.using("replica").create(user_id=other.pk, filename="other.csv", size=1)
    _, other_token = AuthToken.objects.create(user=other)

    # The token exists on the primary only, and still works: tokens are always read there.
    assert filenames(token_client(token).get(UPLOADS)) == {"replica.csv"}

    patched = token_client(token).patch("/api/v1/me/", {"name": "Asha Menon"}, format="json")
    assert patched.status_code == 200 and patched.json()["name"] == "Asha Menon"
    assert User.objects.using("default").get(pk=user.pk).name == "Asha Menon"
    assert User.objects.using("replica").get(pk=user.pk).name != "Asha Menon"

    assert filenames(token_client(token).get(UPLOADS)) == {"primary.csv"}
    assert filenames(token_client(other_token).get(UPLOADS)) == {"other.csv"}  # the pin is asha's only
    clock.now += 5.1
    assert filenames(token_client(token).get(UPLOADS)) == {"replica.csv"}


def test_a_revoked_token_stops_at_once_whatever_the_replica_holds(replica_on, token_user):
    user, token = token_user
    row = AuthToken.objects.get(user=user)
    AuthToken.objects.using("replica").bulk_create([row])  # the row now says it came from the replica
    assert token_client(token).get(UPLOADS).status_code == 200
    pk = row.pk
    row.delete()  # and is still deleted from the primary: writes never go to the replica
    assert not AuthToken.objects.using("default").filter(pk=pk).exists()
    assert AuthToken.objects.using("replica").filter(pk=pk).exists()
    assert token_client(token).get(UPLOADS).status_code == 401


def test_a_token_works_at_once_for_a_user_the_replica_does_not_have_yet(replica_on):
    credentials = {"email": "new@example.com", "password": "a-long-enough-passphrase"}
    registered = APIClient().post(
        "/api/v1/auth/register/", {**credentials, "name": "New User"}, format="json"
    )
    assert registered.status_code == 202, registered.content
    # Sign-up issues no token (it answers alike for a known address): the log-in that follows does.
    logged_in = APIClient().post("/api/v1/auth/login/", credentials, format="json")
    assert logged_in.status_code == 200, logged_in.content
    assert not User.objects.using("replica").exists()
    # No cookie, no user pin (the log-in request had no user yet): the token, and the user joined to
    # it, are read from the primary.
    me = token_client(logged_in.json()["token"]).get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["email"] == "new@example.com"


def test_related_rows_are_read_where_their_parent_was(replica_on, token_user):
    user, _ = token_user
    with replica_reads():
        on_primary = User.objects.using("default").get(pk=user.pk)
        on_replica = User.objects.get(pk=user.pk)
        assert on_replica._state.db == "replica"
        assert {upload.filename for upload in on_primary.uploads.all()} == {"primary.csv"}
        assert {upload.filename for upload in on_replica.uploads.all()} == {"replica.csv"}


def test_a_get_that_writes_reads_the_primary_from_then_on(replica_on, split):
    seen = []

    def view(request):
        seen.append({s.slug for s in Service.objects.all()})
        Heartbeat.objects.create(name="a-write")
        seen.append({s.slug for s in Service.objects.all()})
        return JsonResponse({})

    response = ReplicaPinMiddleware(view)(RequestFactory().get("/"))
    assert seen == [{"on-replica"}, {"on-primary"}]
    assert PIN_COOKIE in response.cookies
    assert Heartbeat.objects.using("default").filter(name="a-write").exists()
    assert not Heartbeat.objects.using("replica").exists()


def test_transaction_atomic_reads_the_primary(replica_on, split):
    def read():
        return {s.slug for s in Service.objects.all()}

    def view(request):
        outside = read()
        with transaction.atomic():
            inside = read()
        return JsonResponse({"outside": sorted(outside), "inside": sorted(inside), "after": sorted(read())})

    body = ReplicaPinMiddleware(view)(RequestFactory().get("/")).content
    assert body == b'{"outside": ["on-replica"], "inside": ["on-primary"], "after": ["on-replica"]}'


def test_tasks_and_commands_read_the_primary_unless_they_opt_in(replica_on, split):
    # No request: a Celery worker or a command.
    assert {s.slug for s in Service.objects.all()} == {"on-primary"}
    with replica_reads():
        assert {s.slug for s in Service.objects.all()} == {"on-replica"}
        Heartbeat.objects.create(name="task-write")
        assert {s.slug for s in Service.objects.all()} == {"on-primary"}  # after its own write
    assert not Heartbeat.objects.using("replica").exists()


def test_writes_and_migrations_only_ever_go_to_the_primary(split):
    replica_router = ReplicaRouter()
    with replica_reads():
        assert replica_router.db_for_read(Service) == "replica"
        assert replica_router.db_for_write(Service) == "default"
        assert replica_router.db_for_read(Service) == "default"  # the write pinned the block
    assert replica_router.allow_migrate("default", "content") is True
    assert replica_router.allow_migrate("replica", "content") is False
    on_primary = Service.objects.using("default").get()
    on_replica = Service.objects.using("replica").get()
    assert replica_router.allow_relation(on_primary, on_replica) is True


def test_a_session_log_in_pins_the_user_as_well_as_the_browser(replica_on, clock):
    user = UserFactory(email="asha@example.com", password="correct-horse-battery-9")
    client = Client()
    response = client.post(
        "/api/auth/login/", {"username": "asha@example.com", "password": "correct-horse-battery-9"}
    )
    assert response.status_code == 302, response.content
    assert PIN_COOKIE in response.cookies
    # Another device of the same user reads the primary too, until the pin expires.
    assert routers.user_pinned(user.pk)
    clock.now += 6
    assert not routers.user_pinned(user.pk)
