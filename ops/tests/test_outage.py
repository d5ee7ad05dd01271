"""
A real PostgreSQL outage, end to end: a private PostgreSQL cluster of the test's own (the shared server
is never stopped), the app migrated onto it and served by gunicorn with config/gunicorn.py (two workers,
production settings), then the cluster stopped and started again under it.

What it holds: during an outage /readyz answers 503 within 2 s with the database failing and nothing
secret in the body, and the API answers a 503 in the project's error shape; once the cluster is back both
recover by themselves and every request after that succeeds. After a quick restart (every pooled
connection dead, nothing told), at most one API request per worker fails, reads and form writes alike,
and no readiness probe does. Under load during an outage /healthz still answers at once and /readyz
reports the database. With a Redis of the test's own stopped, forms are still stored fast, readiness
warns (200), and the sweep queues the stored forms once Redis is back.

The private servers are common.testing.stack's (bench/faults.py uses them too). The figures (latency during the outage, recovery time) are printed: `pytest -s` shows them.
"""

import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings

from common.testing.stack import Cluster, Redis, Response, Server, production_env, wait_until

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
# A password trust authentication ignores: if the app ever echoes its database URL, the test sees it.
CANARY = f"canary{uuid.uuid4().hex[:12]}"
WORKERS = 2


def app_env(cluster: Cluster, database: str, var_dir: Path) -> dict:
    extra = {
        # Its own keys on the suite's Redis (cache and broker), never another test run's.
        "CACHE_KEY_PREFIX": f"outage-{uuid.uuid4().hex[:8]}",
    }
    if settings.REDIS_URL:
        extra["REDIS_URL"] = settings.REDIS_URL
    return production_env(database_url=cluster.url(database), var_dir=var_dir, **extra)


def _assert_no_secrets(text: str, cluster: Cluster) -> None:
    for secret in (CANARY, "postgres://", f"127.0.0.1:{cluster.port}", f"port {cluster.port}"):
        assert secret not in text, f"{secret!r} in {text}"


def _api(server: Server) -> Response:
    # A query string of its own every time: never a public-cache hit.
    response, _ = server.get(
        f"/api/v1/services/?limit=1&x={uuid.uuid4().hex}", headers={"Accept": "application/json"}
    )
    return response


@pytest.fixture(scope="module")
def stack():
    # Two folders: the cluster's belongs to `postgres` when the suite runs as root, the app's to the suite.
    pg_dir = Path(tempfile.mkdtemp(prefix="readyz-pg-"))
    base = Path(tempfile.mkdtemp(prefix="readyz-app-"))
    cluster = server = None
    try:
        cluster = Cluster(pg_dir, password=CANARY, bin_dir=settings.PG_BIN_DIR)
        cluster.start()
        cluster.create_database("indivillage")
        env = app_env(cluster, "indivillage", base / "var")
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
        server = Server(env, base / "gunicorn.log", workers=WORKERS)
        yield cluster, server
    finally:
        if server is not None:
            server.stop()
        if cluster is not None:
            with contextlib.suppress(RuntimeError):  # already stopped
                cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(pg_dir, ignore_errors=True)


def _form(server: Server) -> tuple[Response, float]:
    """A lead form, from an address of its own each time (the per-e-mail throttle never counts twice)."""
    body = {"name": "Asha", "email": f"{uuid.uuid4().hex[:12]}@example.com", "message": "Hello"}
    return server.post("/api/v1/submissions/contact/", body)


def _burst(server: Server, path_or_api, n: int = 4 * WORKERS) -> list[Response]:
    """
    `n` requests at once. Sequential requests may all land on the same gunicorn worker; concurrent ones
    queue behind a busy worker and reach every other one.
    """
    fetch = {"api": lambda _: _api(server), "form": lambda _: _form(server)[0]}.get(
        path_or_api, lambda _: server.get(path_or_api)[0]
    )
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(fetch, range(n)))


def _warm(server: Server) -> None:
    """Every worker holds pooled connections (and /readyz has grown the pools to a few each)."""
    for ready in _burst(server, "/readyz"):
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"]["status"] == "ok"
    assert [r.status_code for r in _burst(server, "api")] == [200] * 4 * WORKERS


def _assert_unavailable(response: Response, cluster: Cluster) -> None:
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert set(response.json()["error"]) == {"code", "message"}
    assert response.headers["Retry-After"] == "5"
    _assert_no_secrets(response.text, cluster)


def _first_requests_after(server: Server, cluster: Cluster, kind: str = "api") -> int:
    """
    A burst reaches every worker: each may fail its first request on a connection the server closed
    (then drains its pool), never more. Every request after that succeeds. Returns how many failed.
    Reads ("api") and writes ("form", which fail inside transaction.atomic()) alike.
    """
    ok = 201 if kind == "form" else 200
    responses = _burst(server, kind)
    failed = [r for r in responses if r.status_code != ok]
    assert len(failed) <= WORKERS, [r.status_code for r in responses]
    for response in failed:
        _assert_unavailable(response, cluster)
    again = [_api(server) if kind == "api" else _form(server)[0] for _ in range(10)]
    assert [r.status_code for r in again] == [ok] * 10
    return len(failed)


def test_a_restart_fails_at_most_one_request_per_worker_and_no_readiness_probe(stack):
    """
    Every pooled connection is dead after a restart, and nothing tells the pools. Left alone, each
    connection would fail one request; the first one a worker meets drains its pool
    (common.exceptions.database_pools_discard_broken), and /readyz retries on a new connection instead
    of reporting a server that is back as down.
    """
    cluster, server = stack
    _warm(server)
    cluster.stop("fast")
    cluster.start()
    failed = _first_requests_after(server, cluster)

    _warm(server)
    cluster.stop("fast")
    cluster.start()
    probes = _burst(server, "/readyz")
    assert [p.status_code for p in probes] == [200] * len(probes), [
        {name: c for name, c in p.json()["checks"].items() if c["status"] == "fail"} for p in probes
    ]
    _first_requests_after(server, cluster)
    print(
        f"\nafter a restart: {failed} of {4 * WORKERS} API requests failed, then none; /readyz never failed"
    )


def test_an_outage_answers_503_fast_and_recovers_by_itself(stack):
    cluster, server = stack
    _warm(server)
    healthy = min(server.get("/readyz")[1] for _ in range(5))

    cluster.stop("fast")

    latencies = []
    for _ in range(4):  # more probes than workers: each worker, and a worker whose check still hangs
        ready, elapsed = server.get("/readyz")
        latencies.append(elapsed)
        assert ready.status_code == 503
        assert elapsed < 2.0, f"/readyz took {elapsed:.2f} s during the outage"
        body = ready.json()
        assert body["status"] == "fail"
        assert body["checks"]["database"]["status"] == "fail"
        assert body["checks"]["storage"]["status"] == "ok"  # the rest still report
        _assert_no_secrets(ready.text, cluster)

    started = time.monotonic()
    for response in _burst(server, "api", n=WORKERS):
        _assert_unavailable(response, cluster)
    api_latency = time.monotonic() - started

    cluster.start()  # returns once the cluster accepts connections
    # Each worker's pool reconnects on its own after an outage (psycopg_pool's backoff, slower under
    # load): recovered means a whole burst, reaching every worker and thread, succeeds. The at-most-one
    # failure per worker after a quick restart is the restart tests' claim, not this one's.
    recovered = wait_until(
        lambda: (
            server.get("/readyz")[0].status_code == 200
            and all(r.status_code == 200 for r in _burst(server, "api"))
        ),
        within=30,
    )
    assert [_api(server).status_code for _ in range(10)] == [200] * 10
    ready, _ = server.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"]["status"] == "ok"
    print(
        f"\n/readyz healthy: {healthy * 1000:.0f} ms; during the outage: "
        f"{', '.join(f'{t:.2f}' for t in latencies)} s; API 503 within {api_latency:.2f} s;"
        f" both 200 again {recovered:.1f} s after the cluster was back"
    )


def test_a_restart_fails_at_most_one_form_per_worker(stack):
    """
    Writes as reads (before, every idle connection failed one form: 6 of 8). A closed connection is
    swapped at checkout (common.pools); one that is not noticed fails inside transaction.atomic(), whose
    exit hands it back to the pool before the 503 handler runs, and the pool's count of bad returns
    tells the handler to drain.
    """
    cluster, server = stack
    _warm(server)
    assert [r.status_code for r in _burst(server, "form")] == [201] * 4 * WORKERS
    figures = []
    for _ in range(2):
        cluster.stop("fast")
        cluster.start()
        figures.append(_first_requests_after(server, cluster, kind="form"))
    print(f"\nafter a restart: {figures} of {4 * WORKERS} forms failed ({WORKERS} workers), then none")


# The load during an outage: clients that send again as soon as they get their 503, one fewer than a
# worker has threads (config/gunicorn.py: GUNICORN_THREADS, 4 by default). However gunicorn spreads
# them, every worker keeps a thread free for the probe; with as many clients as a worker has threads,
# all can land on one worker and a probe waits for one of them (up to the 1 s pool timeout: 0.99 s
# seen), which docs/health.md states as the limit.
THREADS = 4
LOAD = THREADS - 1


def test_liveness_answers_at_once_and_readiness_reports_the_outage_under_load(stack):
    """
    With one sync thread per worker, requests waiting out the pool timeout held every worker: /healthz
    took 6.3-6.5 s and /readyz never got to say the database was down. With gthread workers and a pool
    timeout under the readiness budget, liveness answers at once and readiness reports the outage.
    """
    cluster, server = stack
    _warm(server)
    cluster.stop("fast")
    stop = threading.Event()
    load_statuses: list[int] = []

    def load():
        while not stop.is_set():
            load_statuses.append(_api(server).status_code)

    healthz: list[float] = []
    readyz: list[tuple[Response, float]] = []
    try:
        with ThreadPoolExecutor(max_workers=LOAD) as clients:
            for _ in range(LOAD):
                clients.submit(load)
            try:
                time.sleep(1.5)  # every client is waiting on the pool by now
                for i in range(60):
                    response, elapsed = server.get("/healthz")
                    assert response.status_code == 200
                    healthz.append(elapsed)
                    if i % 20 == 19:
                        readyz.append(server.get("/readyz"))
                    time.sleep(0.05)
            finally:
                stop.set()
    finally:
        cluster.start()
    wait_until(
        lambda: server.get("/readyz")[0].status_code == 200 and _api(server).status_code == 200, within=30
    )

    assert load_statuses and set(load_statuses) == {503}, sorted(set(load_statuses))
    assert max(healthz) < 0.5, f"/healthz took {max(healthz):.2f} s"
    for ready, elapsed in readyz:
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"]["database"]["status"] == "fail"
        assert elapsed < 2.5, f"/readyz took {elapsed:.2f} s"
        _assert_no_secrets(ready.text, cluster)
    ordered = sorted(healthz)
    print(
        f"\nunder load ({LOAD} clients, {len(load_statuses)} API 503s) with PostgreSQL stopped: /healthz"
        f" p50 {ordered[len(ordered) // 2] * 1000:.1f} ms, p99 {ordered[int(len(ordered) * 0.99)] * 1000:.1f}"
        f" ms, max {ordered[-1] * 1000:.1f} ms; /readyz 503 in {', '.join(f'{t:.2f}' for _, t in readyz)} s"
    )


@pytest.fixture(scope="module")
def redis_stack(stack):
    """The same database, a Redis of the test's own (cache and broker) and a gunicorn on it."""
    cluster, _ = stack
    base = Path(tempfile.mkdtemp(prefix="readyz-redis-"))
    broker = server = None
    try:
        broker = Redis(base)
        broker.start()
        env = app_env(cluster, "indivillage", base / "var")
        env["REDIS_URL"] = broker.url()
        server = Server(env, base / "gunicorn.log")
        yield cluster, broker, server, env
    finally:
        if server is not None:
            server.stop()
        if broker is not None:
            broker.stop()
        shutil.rmtree(base, ignore_errors=True)


def _flagged(cluster: Cluster) -> set[str]:
    with psycopg.connect(cluster.url("indivillage")) as conn:
        rows = conn.execute("SELECT id::text FROM submissions_formsubmission WHERE enqueue_failed").fetchall()
    return {row[0] for row in rows}


def test_redis_down_forms_stay_fast_readiness_warns_and_the_sweep_queues_them_once_it_is_back(redis_stack):
    cluster, broker, server, env = redis_stack
    # Every worker has served forms (a worker's first request pays for its lazy imports).
    assert [r.status_code for r in _burst(server, "form")] == [201] * 4 * WORKERS
    healthy = sorted(_form(server)[1] for _ in range(6))
    broker.stop()

    timings, stored = [], []
    for _ in range(6):
        response, elapsed = _form(server)
        assert response.status_code == 201, response.text
        timings.append(elapsed)
        stored.append(response.json()["id"])
    # Before: 0.63 s each (Celery's publish retries); now one bounded attempt and one retry.
    assert max(timings) < 0.5, timings
    ready, ready_elapsed = server.get("/readyz")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert ready.json()["status"] == "warn"
    assert (checks["cache"]["status"], checks["broker"]["status"]) == ("warn", "warn")
    assert checks["database"]["status"] == "ok"
    assert set(stored) <= _flagged(cluster)

    broker.start()
    # A form after the broker is back is queued at once: the retry reconnects the pooled connection.
    response, _ = _form(server)
    assert response.status_code == 201 and response.json()["id"] not in _flagged(cluster)
    # The sweep, as beat runs it every 30 s (ops.schedule), queues the stored forms at once.
    sweep = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c"]
        + ["from submissions.services import submission_requeue_stale as s; print(s())"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    assert int(sweep.stdout.split()[-1]) >= len(stored)
    assert not _flagged(cluster)
    queued = redis.Redis.from_url(broker.url(), socket_connect_timeout=0.2).lrange("celery", 0, -1)
    assert all(any(pk.encode() in message for message in queued) for pk in stored)
    print(
        f"\nforms answered 201 in {healthy[0] * 1000:.0f}-{healthy[-1] * 1000:.0f} ms with Redis up,"
        f" {min(timings) * 1000:.0f}-{max(timings) * 1000:.0f} ms with Redis down;"
        f" /readyz 200 warn in {ready_elapsed * 1000:.0f} ms; after Redis was back the sweep queued"
        f" {sweep.stdout.split()[-1]} stored forms"
    )
