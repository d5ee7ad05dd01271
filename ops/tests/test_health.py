"""
Readiness (/readyz, ops/health.py) and the 503 a database outage gives everywhere else.

The checks run against what the suite has: SQLite and LocMem, or PostgreSQL and Redis in CI's second
run. What cannot fail here for real (a hung check, a dead broker or clamd) is given something that does:
a check that blocks, a port nobody listens on, a fake clamd on a real socket.
"""

import json
import socket
import threading
import time
from contextlib import ExitStack
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import InterfaceError, OperationalError, close_old_connections, connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg_pool import PoolTimeout

from accounts.models import Role
from accounts.tests.factories import UserFactory
from common import pools
from common.exceptions import api_exception_handler, json_500
from common.pools import database_pools_discard_broken
from ops import health
from ops.beat import heartbeat_record
from ops.health import FAIL, OK, SKIPPED, WARN, CheckOutcome, readiness_run
from ops.models import BackupRecord, BackupTier, Heartbeat, VerifyStatus

SECRET = "s3cret-canary-7f1c"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fails_every_query(execute, sql, params, many, context):
    raise OperationalError(f"connection to postgres://app:{SECRET}@db.internal:5432/x failed")


@pytest.fixture
def fake_clamd():
    """A clamd stand-in on a real socket: answers each z-command with `reply` (PONG unless changed)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    state = {"reply": b"PONG\0", "commands": []}

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\0" not in data:
                    piece = conn.recv(64)
                    if not piece:
                        break
                    data += piece
                state["commands"].append(data)
                conn.sendall(state["reply"])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    state["url"] = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    yield state
    server.close()
    thread.join(timeout=5)


# --- the page --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_readyz_reports_every_check_and_is_never_cached(settings, tmp_path):
    settings.CLAMAV_URL = ""
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "warn"  # warnings show at the top; only a failure is a 503
    checks = body["checks"]
    assert list(checks) == [
        "database",
        "cache",
        "broker",
        "storage",
        "clamav",
        "backup",
        "beat",
        "disk",
        "wal_archive",
    ]
    assert checks["database"]["status"] == OK
    # Every alias: the test settings carry a second database standing in for the replica.
    assert checks["database"]["detail"] == "SELECT 1 on " + ", ".join(settings.DATABASES)
    assert checks["cache"]["status"] == OK
    assert ("(redis)" in checks["cache"]["detail"]) == bool(settings.REDIS_URL)
    assert checks["broker"]["status"] == SKIPPED  # the test settings run tasks in-process
    assert checks["storage"]["status"] == OK
    assert checks["clamav"]["status"] == SKIPPED
    # Nothing verified and no beat in a fresh database: worth a warning, no reason to leave the pool.
    assert checks["backup"] == {**checks["backup"], "status": WARN, "detail": "no verified backup yet"}
    assert checks["beat"] == {**checks["beat"], "status": WARN, "detail": "no heartbeat yet"}
    assert checks["disk"]["status"] == OK and "lowest free space" in checks["disk"]["detail"]
    # The test database does not archive WAL (and SQLite has none); the cluster that does:
    # ops/tests/test_least_privilege.py.
    assert checks["wal_archive"]["status"] == SKIPPED
    assert all(isinstance(c["latency_ms"], float) for c in checks.values())
    assert "no-store" in response["Cache-Control"] and "max-age=0" in response["Cache-Control"]
    # The storage probe cleaned up after itself.
    assert not list(tmp_path.rglob("*.probe"))


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_one_failing_check_makes_readyz_503_and_the_others_still_report(settings):
    settings.CLAMAV_URL = f"tcp://127.0.0.1:{_closed_port()}"
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["clamav"]["status"] == FAIL
    assert body["checks"]["clamav"]["detail"] == "clamd did not answer PING"
    assert body["checks"]["database"]["status"] == OK
    assert settings.CLAMAV_URL not in response.content.decode()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_strict_readiness_fails_on_a_late_beat(settings):
    settings.READINESS_STRICT = True
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["beat"] == {
        **response.json()["checks"]["beat"],
        "status": FAIL,
        "detail": "no heartbeat yet",
    }


@pytest.mark.django_db(databases="__all__")
def test_readyz_touches_neither_database_nor_cache_outside_its_checks(monkeypatch):
    """A session cookie and a token are ignored: no middleware loads a session, a user or a cached page."""
    calls = []
    default = caches["default"]
    for method in ("get", "get_many", "set", "add", "incr", "delete", "has_key", "set_many", "touch"):
        original = getattr(default, method)
        monkeypatch.setattr(
            default, method, lambda *a, _m=method, _o=original, **k: calls.append(_m) or _o(*a, **k)
        )
    monkeypatch.setattr(health, "CHECKS", {"stub": lambda timeout: CheckOutcome(OK, "fine")})
    client = Client(HTTP_AUTHORIZATION="Token " + "a" * 64)
    client.cookies["sessionid"] = "x" * 32
    with ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[a])) for a in settings.DATABASES]
        response = client.get("/readyz?probe=1")
    assert [len(c) for c in captured] == [0] * len(settings.DATABASES)
    assert response.status_code == 200
    assert response.json()["checks"]["stub"]["detail"] == "fine"
    assert calls == []
    assert "Set-Cookie" not in response


# --- running the checks ----------------------------------------------------------------------------


def test_a_hung_check_times_out_without_holding_up_the_answer_and_is_not_started_twice():
    release = threading.Event()
    calls = []

    def hangs(timeout):
        calls.append(threading.current_thread())
        release.wait(30)
        return CheckOutcome(OK, "late")

    checks = {"hangs": hangs, "quick": lambda timeout: CheckOutcome(OK, f"budget {timeout}")}
    try:
        first = readiness_run(checks=checks, timeout=0.2)
        # The answer came while the check was still blocked: nothing waited for it.
        assert not release.is_set() and calls[0].is_alive()
        assert first.checks["hangs"].status == FAIL
        assert first.checks["hangs"].detail == "timed out after 0.2 s"
        assert first.checks["quick"].detail == "budget 0.2"
        assert first.status == FAIL and first.http_status == 503

        # A probe while the overrun goes on fails at once and starts no second thread.
        second = readiness_run(checks=checks, timeout=0.2)
        assert second.checks["hangs"].status == FAIL
        assert "previous run has not finished" in second.checks["hangs"].detail
        assert len(calls) == 1
    finally:
        release.set()
        calls[0].join(timeout=5)
    third = readiness_run(checks=checks, timeout=0.2)
    assert third.checks["hangs"] == health.CheckResult(OK, third.checks["hangs"].latency_ms, "late")
    assert len(calls) == 2 and third.status == OK


def test_a_failure_shows_the_exception_class_never_its_text():
    def wrapped_by_django(timeout):
        try:
            raise psycopg.OperationalError(f"password authentication failed: postgres://app:{SECRET}@db/x")
        except psycopg.OperationalError as exc:
            raise OperationalError(str(exc)) from exc

    def pool_timeout(timeout):
        try:
            raise PoolTimeout("couldn't get a connection after 5.00 sec")
        except PoolTimeout as exc:
            raise OperationalError(str(exc)) from exc

    result = readiness_run(checks={"a": wrapped_by_django, "b": pool_timeout}, timeout=2)
    assert result.checks["a"].detail == "OperationalError"
    assert result.checks["b"].detail == "OperationalError (PoolTimeout)"
    assert SECRET not in json.dumps(result.as_dict())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_check_thread_gives_its_database_connection_back():
    seen = {}

    def uses_the_orm(timeout):
        seen["connection"] = connections["default"]
        seen["pool"] = connections["default"].pool
        Heartbeat.objects.count()
        seen["open_during"] = seen["connection"].connection is not None
        return CheckOutcome(OK)

    assert readiness_run(checks={"orm": uses_the_orm}, timeout=5).status == OK
    assert seen["open_during"] is True
    assert seen["connection"] is not connection  # the check's own thread, its own wrapper
    assert seen["connection"].connection is None  # returned to the pool, not left to the collector
    stats = seen["pool"].get_stats()
    assert stats["pool_size"] - stats["pool_available"] == 0  # nothing is still checked out


# --- each check ------------------------------------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_database_check_names_the_alias_that_fails():
    aliases = list(settings.DATABASES)
    assert aliases == ["default", "replica"]  # config/settings/test.py
    assert health.check_database(1.0) == CheckOutcome(OK, "SELECT 1 on default, replica")
    with connections["default"].execute_wrapper(_fails_every_query):
        outcome = health.check_database(1.0)
    assert outcome == CheckOutcome(FAIL, "default: OperationalError")


@pytest.mark.django_db(databases="__all__")
def test_a_replica_that_fails_only_warns_since_reads_fall_back_to_the_primary():
    # Failing readiness for it would take every instance out of the load balancer at once.
    with connections["replica"].execute_wrapper(_fails_every_query):
        outcome = health.check_database(1.0)
    assert outcome == CheckOutcome(WARN, "replica: OperationalError (reads go to the primary meanwhile)")
    with (
        connections["replica"].execute_wrapper(_fails_every_query),
        connections["default"].execute_wrapper(_fails_every_query),
    ):
        both = health.check_database(1.0)
    assert both == CheckOutcome(FAIL, "default: OperationalError; replica: OperationalError")


def test_cache_check_round_trips_through_the_configured_cache():
    outcome = readiness_run(checks={"cache": health.check_cache}, timeout=2).checks["cache"]
    assert outcome.status == OK
    expected = "default (redis)" if settings.REDIS_URL else "default (LocMemCache)"
    assert outcome.detail == f"round trip on {expected}"


def test_cache_check_warns_when_redis_is_down_and_readiness_stays_200(settings):
    """The raw client sees Redis down (the cache itself swallows it); the site serves without it."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://:{SECRET}@127.0.0.1:{_closed_port()}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    caches["default"].set("k", "v")  # swallowed: the site stays up on a dead cache
    assert caches["default"].get("k") is None
    result = readiness_run(checks={"cache": health.check_cache}, timeout=2)
    assert result.checks["cache"].status == WARN
    assert result.checks["cache"].detail == "ConnectionError (fail-open: still serving)"
    assert result.http_status == 200
    assert SECRET not in json.dumps(result.as_dict())


def test_broker_check_is_skipped_when_tasks_run_in_process(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert health.check_broker(1.0).status == SKIPPED


def test_broker_check_connects_to_the_broker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "memory://"
    assert health.check_broker(1.0) == CheckOutcome(OK, "connected (memory)")


def test_broker_check_warns_on_a_dead_broker_within_its_budget_and_says_nothing_of_the_url(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"redis://:{SECRET}@127.0.0.1:{_closed_port()}/0"
    result = readiness_run(checks={"broker": health.check_broker}, timeout=1.0)
    # Fail-open: forms are stored and the sweep queues them once the broker is back.
    assert result.checks["broker"].status == WARN
    assert result.http_status == 200
    # kombu's own retries would have taken 2 s and more: the check ended on its own, not by the budget.
    assert "timed out" not in result.checks["broker"].detail
    assert result.checks["broker"].detail == "OperationalError (ConnectionError) (fail-open: still serving)"
    assert SECRET not in json.dumps(result.as_dict()) and "127.0.0.1" not in json.dumps(result.as_dict())


@pytest.mark.postgres
def test_broker_check_reaches_the_real_redis_broker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    assert health.check_broker(1.0) == CheckOutcome(OK, "connected (redis)")


def test_storage_check_writes_reads_and_deletes_in_both_storages(tmp_path):
    assert health.check_storage(1.0) == CheckOutcome(OK, "write, read and delete on private, backups")
    assert (tmp_path / "private").is_dir() and (tmp_path / "backups").is_dir()
    assert not list(tmp_path.rglob("*.probe"))


def test_storage_check_fails_when_a_storage_cannot_be_written(settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backups folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {**settings.STORAGES["backups"], "OPTIONS": {"location": str(blocker), "base_url": None}},
    }
    result = readiness_run(checks={"storage": health.check_storage}, timeout=2)
    assert result.checks["storage"].status == FAIL
    assert result.checks["storage"].detail in {"FileExistsError", "NotADirectoryError"}
    assert str(tmp_path) not in result.checks["storage"].detail


def test_clamav_check_is_skipped_without_clamd(settings):
    settings.CLAMAV_URL = ""
    assert health.check_clamav(1.0).status == SKIPPED


def test_a_scanner_disabled_on_purpose_is_a_warning_in_readyz(settings):
    settings.CLAMAV_URL = ""
    settings.CLAMAV_DISABLED = True
    assert health.check_clamav(1.0) == CheckOutcome(
        WARN, "disabled (CLAMAV_DISABLED=true): uploads get the built-in EICAR check only"
    )
    body = json.loads(Client().get("/readyz").content)
    assert body["checks"]["clamav"]["status"] == WARN
    assert body["checks"]["clamav"]["detail"].startswith("disabled")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.3.17:8000", "localhost:8000", "web"])
def test_probes_answer_whatever_host_the_orchestrator_sends(settings, path, host):
    settings.ALLOWED_HOSTS = ["indivillage.com"]
    settings.CLAMAV_URL = ""
    response = Client().get(path, HTTP_HOST=host)
    assert response.status_code in (200, 503), response.content[:300]
    assert "status" in json.loads(response.content)
    assert "no-cache" in response["Cache-Control"]
    # Anything else from an unknown host is still refused.
    assert Client().get("/api/v1/industries/", HTTP_HOST=host).status_code == 400


def test_probes_keep_their_method_rule(settings):
    settings.ALLOWED_HOSTS = ["indivillage.com"]
    assert Client().post("/healthz", HTTP_HOST="indivillage.com").status_code == 405


def test_clamav_check_pings_clamd(settings, fake_clamd):
    settings.CLAMAV_URL = fake_clamd["url"]
    assert health.check_clamav(1.0) == CheckOutcome(OK, "clamd answered PONG")
    assert fake_clamd["commands"] == [b"zPING\0"]
    fake_clamd["reply"] = b"UNKNOWN COMMAND\0"
    assert health.check_clamav(1.0) == CheckOutcome(FAIL, "clamd did not answer PING")


def _backup(*, status: str, taken_ago: timedelta, verified_ago: timedelta | None = None) -> BackupRecord:
    now = timezone.now()
    return BackupRecord.objects.create(
        name=f"backup-{status}-{taken_ago.total_seconds()}",
        tier=BackupTier.HOURLY,
        engine="postgresql",
        sha256="0" * 64,
        verify_status=status,
        created_at=now - taken_ago,
        verified_at=None if verified_ago is None else now - verified_ago,
    )


@pytest.mark.django_db
def test_backup_check_counts_only_verified_backups_by_when_they_were_taken(settings):
    settings.READINESS_BACKUP_MAX_AGE = timedelta(hours=48)
    _backup(status=VerifyStatus.FAILED, taken_ago=timedelta(hours=1))
    _backup(status=VerifyStatus.UNVERIFIED, taken_ago=timedelta(minutes=5))
    assert health.check_backup(1.0) == CheckOutcome(WARN, "no verified backup yet")

    # Verified an hour ago, but taken three days ago: what a restore would bring back is three days old.
    _backup(status=VerifyStatus.PASSED, taken_ago=timedelta(days=3), verified_ago=timedelta(hours=1))
    assert health.check_backup(1.0) == CheckOutcome(WARN, "newest verified backup taken 3 d ago (limit 48 h)")
    settings.READINESS_STRICT = True
    assert health.check_backup(1.0).status == FAIL

    _backup(status=VerifyStatus.PASSED, taken_ago=timedelta(hours=5), verified_ago=timedelta(hours=4))
    assert health.check_backup(1.0) == CheckOutcome(OK, "newest verified backup taken 5 h ago (limit 48 h)")


@pytest.mark.django_db
def test_beat_check_follows_the_heartbeat(settings):
    settings.READINESS_BEAT_MAX_AGE = timedelta(seconds=300)
    assert health.check_beat(1.0) == CheckOutcome(WARN, "no heartbeat yet")
    heartbeat_record()
    outcome = health.check_beat(1.0)
    assert outcome.status == OK and outcome.detail.startswith("last heartbeat ")
    Heartbeat.objects.update(beat_at=timezone.now() - timedelta(minutes=10))
    assert health.check_beat(1.0) == CheckOutcome(WARN, "last heartbeat 10 min ago (limit 5 min)")
    settings.READINESS_STRICT = True
    assert health.check_beat(1.0) == CheckOutcome(FAIL, "last heartbeat 10 min ago (limit 5 min)")


# --- a database outage elsewhere: 503 in the one error shape ---------------------------------------

UNAVAILABLE = {
    "error": {
        "code": "service_unavailable",
        "message": "The service is temporarily unavailable. Please retry shortly.",
    }
}


def _assert_unavailable(response):
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert SECRET not in response.content.decode()


@pytest.mark.django_db
def test_api_view_answers_503_when_its_query_fails(api_client):
    assert api_client.get("/api/v1/services/").status_code == 200  # the public cache knows its schedule
    with connection.execute_wrapper(_fails_every_query):
        response = api_client.get("/api/v1/services/?limit=1&x=outage")
    _assert_unavailable(response)


@pytest.mark.django_db
def test_database_failure_in_a_middleware_is_a_503_too():
    """A cold public cache asks the database for the next publication time before any view runs."""
    with connection.execute_wrapper(_fails_every_query):
        response = Client(raise_request_exception=False).get("/api/v1/services/?x=cold")
    _assert_unavailable(response)


@pytest.mark.django_db
def test_database_failure_in_a_plain_django_view_is_a_503_too():
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(role=Role.ADMIN))
    with connection.execute_wrapper(_fails_every_query):
        response = client.get("/admin/")  # the session and the user are loaded from the database
    _assert_unavailable(response)


@pytest.mark.parametrize(
    "exc",
    [InterfaceError("connection already closed"), PoolTimeout("couldn't get a connection after 5.00 sec")],
)
def test_every_kind_of_unreachable_database_maps_to_503(exc):
    response = api_exception_handler(exc, {})
    assert response.status_code == 503 and response.data == UNAVAILABLE
    assert response["Retry-After"] == "5"
    try:
        raise exc
    except Exception:
        _assert_unavailable(json_500(None))


def test_other_server_errors_stay_500():
    try:
        raise ValueError("a bug")
    except ValueError:
        response = json_500(None)
    assert response.status_code == 500
    assert json.loads(response.content) == {
        "error": {"code": "server_error", "message": "Something went wrong on our side."}
    }
    assert not response.has_header("Retry-After")


# --- connections the server closed (a restart): the pool is drained, not failed one request at a time --


def _pooled_pids(alias: str = "default") -> set[int]:
    """The server pids of every connection idle in the pool, asked on each (a dead one raises)."""
    connections[alias].close()  # this thread's connection goes back to the pool first
    pool = connections[alias].pool
    pool.open(wait=True)
    # Settled first: connections a drain asked for are still being opened in the background, and one
    # arriving later would be fresh, not among the pids taken here (on a busy machine, a flaky test).
    deadline = time.monotonic() + 10
    while (stats := pool.get_stats())["pool_size"] != stats["pool_available"] and time.monotonic() < deadline:
        time.sleep(0.01)
    held = [pool.getconn() for _ in range(pool.get_stats()["pool_available"])]
    try:
        return {conn.execute("SELECT pg_backend_pid()").fetchone()[0] for conn in held}
    finally:
        for conn in held:
            pool.putconn(conn)


@pytest.fixture
def _pools_closed_after():
    yield
    for alias in settings.DATABASES:
        connections[alias].close()
        connections[alias].close_pool()


def _terminate(pids: set[int]) -> None:
    """What a restart does to every session, done to these alone, from a session of its own."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [list(pids)])
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)]
        ).fetchone()[0]:
            pass


@pytest.fixture(params=["noticed at checkout", "lost without a word"])
def closed_unnoticed(request, monkeypatch):
    """
    A restart's connections are noticed at checkout (the server said goodbye on each: common.pools); a
    connection lost without a word (a network cut) is not, and its first query fails. Both are tried.
    Returns how many requests may fail: none when noticed, one (which drains the pool) when not.
    """
    if request.param == "lost without a word":
        monkeypatch.setattr(pools, "_closed_by_server", lambda raw: False)
        return 1
    return 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.usefixtures("_pools_closed_after")
def test_the_first_request_on_a_closed_connection_drains_the_pool_and_the_next_succeeds(
    api_client, closed_unnoticed
):
    def get(path):
        response = api_client.get(path)
        # What a server does at the end of every request (Django's test client leaves it out).
        close_old_connections()
        return response

    assert get("/api/v1/services/").status_code == 200  # the public cache knows its schedule
    stale = _pooled_pids()
    assert len(stale) >= 2
    assert database_pools_discard_broken() == []  # healthy connections are left alone
    _terminate(stale)

    statuses = [get(f"/api/v1/services/?x=after-restart-{i}").status_code for i in range(1, 6)]
    # Without the drain the pool would hand out the next dead connection: a failure for each of them.
    assert statuses == [503] * closed_unnoticed + [200] * (5 - closed_unnoticed)
    assert not stale & _pooled_pids()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.usefixtures("_pools_closed_after")
def test_a_write_on_a_closed_connection_drains_the_pool_too(api_client, settings, closed_unnoticed):
    """
    A write fails inside transaction.atomic(), whose exit hands the broken connection back to the pool
    before the 503 handler runs: the pool's count of bad returns is what tells the handler to drain.
    """
    settings.LEAD_FORM_LIMIT_PER_IP = settings.LEAD_FORM_LIMIT_PER_EMAIL = 100

    def post(i):
        body = {"name": "Asha", "email": f"asha{i}@example.com", "message": "Hello"}
        response = api_client.post("/api/v1/submissions/contact/", body, format="json")
        close_old_connections()
        return response

    assert post(0).status_code == 201
    stale = _pooled_pids()
    assert len(stale) >= 2
    _terminate(stale)

    statuses = [post(i).status_code for i in range(1, 6)]
    # Without the drain each remaining dead connection would fail one more form.
    assert statuses == [503] * closed_unnoticed + [201] * (5 - closed_unnoticed)
    assert not stale & _pooled_pids()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.usefixtures("_pools_closed_after")
def test_readiness_retries_on_a_new_connection_when_its_pooled_one_was_closed():
    stale = _pooled_pids()
    _terminate(stale)
    assert health.check_database(1.0) == CheckOutcome(OK, "SELECT 1 on " + ", ".join(settings.DATABASES))
    assert not stale & _pooled_pids()

    # Any check that reads through the ORM, in its own thread, as /readyz runs it.
    stale = _pooled_pids()
    _terminate(stale)
    result = readiness_run(checks={"backup": health.check_backup}, timeout=5)
    assert result.checks["backup"] == health.CheckResult(
        WARN, result.checks["backup"].latency_ms, "no verified backup yet"
    )
    assert not stale & _pooled_pids()


def test_disk_check_warns_below_the_free_space_limit_and_names_the_folder(settings, tmp_path):
    settings.READINESS_DISK_MIN_FREE_PERCENT = 0
    assert health.check_disk(1).status == OK
    # No disk has more than 100 % free: every folder the app writes to is reported.
    settings.READINESS_DISK_MIN_FREE_PERCENT = 100.5
    outcome = health.check_disk(1)
    assert outcome.status == WARN
    assert outcome.detail.startswith("low disk space: private (")
    assert "backups (" in outcome.detail and "(limit 100.5 %)" in outcome.detail
