"""
The stack and the load of the fault suite (bench/faults.py): private PostgreSQL and Redis
(common.testing.stack), gunicorn, a Celery worker and beat, all stopped again whatever happens; lead
forms, API reads and probes in threads; sales e-mails in files, counted per submission.
"""

import atexit
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.core.mail.backends.filebased import EmailBackend as _FileEmailBackend

from common.testing.stack import Cluster, Redis, Server, fetch, production_env

ROOT = Path(__file__).resolve().parent.parent
WEB_WORKERS = 2
_SUBMISSION_LINE = re.compile(r"^Submission: ([0-9a-f-]{36})$", re.M)


class FaultsMailBackend(_FileEmailBackend):
    """Django's file backend with its folder from the environment: production settings have no such setting."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("file_path", os.environ["FAULTS_MAIL_DIR"])
        super().__init__(*args, **kwargs)


SWEEP_TIMINGS = {
    "CELERY_TASK_TIME_LIMIT": "20",
    "CELERY_TASK_SOFT_TIME_LIMIT": "15",
    "UPLOAD_TASK_TIME_LIMIT": "50",
    "TASK_RETRY_BACKOFF_MAX": "5",
    "CELERY_VISIBILITY_TIMEOUT": "60",
    "UPLOAD_STALE_AFTER": "60",
    "SUBMISSION_STALE_AFTER": "30",
    "SUBMISSION_PROCESSING_STALE_AFTER": "30",
}
# The longest of the sweeps' thresholds: a row not final this long after the fault had its sweep.
SWEEP_THRESHOLD = max(int(SWEEP_TIMINGS[k]) for k in SWEEP_TIMINGS if k.endswith("STALE_AFTER"))


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- The stack ------------------------------------------------------------------------------------


class Stack:
    """Everything the suite starts, stopped in reverse order whatever happens (also at exit)."""

    def __init__(self, keep: bool):
        self.keep = keep
        self.pg_dir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.base = Path(tempfile.mkdtemp(prefix="faults-app-"))
        self.mail_dir = self.base / "mail"
        self.mail_dir.mkdir()
        self.cluster = self.redis = self.server = None
        self.worker = self.beat = None
        self._stopped = False
        atexit.register(self.stop)

    def start(self) -> None:
        say("initdb and start a private PostgreSQL cluster")
        self.cluster = Cluster(self.pg_dir)
        # As compose's postgres: the production pool tier keeps 20 connections per process open, and
        # gunicorn's workers, the worker's children, beat and each command make more than the default
        # 100 (docs/health.md, "Connection pool sizing").
        self.cluster.start(max_connections="300")
        self.cluster.create_database("indivillage")
        self.redis = Redis(self.base)
        self.redis.start()
        say(f"postgres on :{self.cluster.port}, redis on :{self.redis.port}; migrating")
        self.env = self._env()
        self.manage("migrate", "--noinput", "-v", "0", timeout=600)
        self.server = Server(self.env, self.base / "gunicorn.log", workers=WEB_WORKERS)
        say(f"gunicorn on :{self.server.port} ({WEB_WORKERS} workers)")
        self.worker_start()
        self.beat_start()

    def _env(self) -> dict:
        return production_env(
            database_url=self.cluster.url("indivillage"),
            var_dir=self.base / "var",
            REDIS_URL=self.redis.url(0),
            # Short timings, so that every sweep's threshold passes within the suite. They keep the
            # relations the system checks hold production to (common/checks.py, docs/uploads.md):
            # visibility 60 > 50 + 5; UPLOAD_STALE_AFTER 60 > 50 + 5; PROCESSING_STALE_AFTER 30 > 20 + 5.
            **SWEEP_TIMINGS,
            EMAIL_BACKEND="bench.fault_stack.FaultsMailBackend",
            FAULTS_MAIL_DIR=str(self.mail_dir),
            PYTHONPATH=str(ROOT),
        )

    def manage(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-3000:]}")
        return done

    def shell(self, code: str, timeout: float = 120) -> str:
        return self.manage("shell", "-v", "0", "-c", code, timeout=timeout).stdout

    def _celery(self, *args: str, log: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def worker_start(self) -> None:
        log = self.base / "worker.log"
        offset = log.stat().st_size if log.exists() else 0
        self.worker = self._celery(
            "worker", "--concurrency", "2", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            log=log,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.worker.poll() is not None:
                raise RuntimeError(f"celery worker exited:\n{log.read_text()[-3000:]}")
            if " ready." in log.read_text()[offset:]:
                say(f"celery worker ready (pid {self.worker.pid})")
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery worker not ready in 60 s:\n{log.read_text()[-3000:]}")

    def workerchildren(self) -> list[int]:
        return children(self.worker.pid)

    def worker_kill(self) -> None:
        """SIGKILL to the worker's whole process group: main process and children at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)

    def beat_start(self) -> None:
        self.beat = self._celery(
            "beat", "--loglevel", "INFO", "--pidfile", str(self.base / "beat.pid"), log=self.base / "beat.log"
        )
        say(f"celery beat started (pid {self.beat.pid})")

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for process in (self.beat, self.worker):
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.cluster is not None and self.cluster.running():
            with contextlib.suppress(RuntimeError):
                self.cluster.stop("immediate")
        if self.keep:
            say(f"kept: {self.base} and {self.pg_dir}")
        else:
            shutil.rmtree(self.base, ignore_errors=True)
            shutil.rmtree(self.pg_dir, ignore_errors=True)

    # Reads straight from the private cluster: no Django start-up per look.
    def sql(self, query: str, params=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.cluster.url("indivillage"), connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()

    def mails_per_submission(self) -> Counter:
        counts = Counter()
        for path in self.mail_dir.iterdir():
            counts.update(_SUBMISSION_LINE.findall(path.read_text(errors="replace")))
        return counts


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


# --- Load -----------------------------------------------------------------------------------------


def healthz_probe(base_url: str, stop, sender) -> None:
    """In a process of its own: GET /healthz every 20 ms until `stop`, then sends the latencies (ms)."""
    times = []
    while not stop.is_set():
        started = time.monotonic()
        ok = False
        with contextlib.suppress(Exception):
            ok = fetch(base_url + "/healthz", timeout=30).status_code == 200
        elapsed = (time.monotonic() - started) * 1000
        times.append(elapsed if ok else 30_000.0)
        time.sleep(max(0.0, 0.02 - elapsed / 1000))
    sender.send(times)


@dataclass
class Outcome:
    kind: str  # post, get
    started: float
    ended: float
    status: int  # 0: no answer (connection refused, timeout)
    submission: str = ""


@dataclass
class Load:
    """Lead-form POSTs and API GETs in threads, and a /healthz probe every 20 ms, until stopped."""

    base_url: str
    posters: int = 3
    getters: int = 1
    outcomes: list = field(default_factory=list)
    healthz_ms: list = field(default_factory=list)
    readyz: list = field(default_factory=list)  # (time, status)

    def __post_init__(self):
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._post, daemon=True) for _ in range(self.posters)]
        self._threads += [threading.Thread(target=self._get, daemon=True) for _ in range(self.getters)]
        self._threads += [threading.Thread(target=self._readyz, daemon=True)]
        # /healthz is timed from a process of its own: timed from a thread here, it would measure this
        # process's own contention for the GIL with the load threads as much as the server.
        context = multiprocessing.get_context("spawn")
        self._probe_stop = context.Event()
        self._probe_results, sender = context.Pipe(duplex=False)
        self._probe = context.Process(
            target=healthz_probe, args=(self.base_url, self._probe_stop, sender), daemon=True
        )

    def __enter__(self):
        self.started = time.monotonic()
        self._probe.start()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._probe_stop.set()
        for thread in self._threads:
            thread.join(timeout=40)
        if self._probe_results.poll(40):
            self.healthz_ms = self._probe_results.recv()
        self._probe.join(timeout=10)
        if self._probe.is_alive():
            self._probe.kill()

    def _post(self):
        while not self._stop.is_set():
            key = uuid.uuid4().hex
            body = json.dumps(
                {"name": "Fault Suite", "email": f"lead-{key[:12]}@example.com", "message": "Fault suite."}
            ).encode()
            headers = {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Idempotency-Key": key,
            }
            started = time.monotonic()
            status, submission = 0, ""
            try:
                answer = fetch(
                    self.base_url + "/api/v1/submissions/contact/", headers=headers, data=body, timeout=30
                )
                status = answer.status_code
                if 200 <= status < 300:
                    submission = answer.json()["id"]
            except Exception:  # noqa: BLE001 - no answer at all is an outcome like any other
                pass
            self.outcomes.append(Outcome("post", started, time.monotonic(), status, submission))

    def _get(self):
        while not self._stop.is_set():
            started = time.monotonic()
            status = 0
            with contextlib.suppress(Exception):
                status = fetch(
                    f"{self.base_url}/api/v1/services/?limit=1&x={uuid.uuid4().hex}",
                    headers={"Accept": "application/json"},
                    timeout=30,
                ).status_code
            self.outcomes.append(Outcome("get", started, time.monotonic(), status))
            time.sleep(0.05)

    def _readyz(self):
        while not self._stop.is_set():
            status = 0
            with contextlib.suppress(Exception):
                status = fetch(self.base_url + "/readyz", timeout=30).status_code
            self.readyz.append((time.monotonic(), status))
            self._stop.wait(1.0)

    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not 200 <= o.status < 300]

    def submissions(self) -> list[str]:
        return [o.submission for o in self.outcomes if o.submission]

    def healthz_p99(self) -> float:
        if len(self.healthz_ms) < 2:
            return float("nan")
        return statistics.quantiles(self.healthz_ms, n=100)[98]


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        found_now = children(todo.pop())
        found += found_now
        todo += found_now
    return found
