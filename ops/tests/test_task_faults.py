"""
Tasks against real outages, end to end: a private PostgreSQL cluster (ops/tests/test_outage.py's), a real
Celery worker on the suite's Redis, production settings with short timings.

- PostgreSQL down when the worker takes the task: the first query fails, the task retries with backoff,
  and the upload ends analysed once PostgreSQL is back (before: "raised unexpected", acked, `uploaded`
  for good).
- The whole worker killed (SIGKILL to its process group) mid-scan: the upload stays `processing`, its
  message unacked in Redis until the visibility timeout; the sweep, once the upload is older than
  UPLOAD_STALE_AFTER, queues it again and a new worker ends it analysed, once.
- PostgreSQL restarted after the e-mail to sales left and before `completed` was committed: the retry
  does not send it again (before: two e-mails); the submission waits for a person, `failed`.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from django.core.mail.backends import filebased

from common.testing.stack import ROOT, Cluster, wait_until
from ops.tests.test_outage import app_env

pytestmark = pytest.mark.postgres

# Short, and coherent as the startup checks demand: stale after > time limit + longest countdown.
TIMINGS = {
    "UPLOAD_TASK_TIME_LIMIT": "60",  # its soft limit is 30 s less
    "CELERY_TASK_TIME_LIMIT": "60",
    "CELERY_TASK_SOFT_TIME_LIMIT": "55",
    "TASK_RETRY_BACKOFF_MAX": "3",
    "UPLOAD_STALE_AFTER": "70",
    "CELERY_VISIBILITY_TIMEOUT": "3600",  # kombu's default: the sweep must not wait for it
    "LOG_LEVEL": "INFO",
}

MAKE_UPLOAD = """
import hashlib, tempfile
from accounts.models import User
from uploads.services import upload_receive
user = User.objects.filter(email="owner@example.com").first() or User.objects.create_user(
    email="owner@example.com", password="a long password 123"
)
data = b"id,name\\n1,a\\n2,b\\n"
with tempfile.NamedTemporaryFile(suffix=".csv") as f:
    f.write(data); f.flush()
    upload = upload_receive(user=user, temporary_path=f.name, filename="a.csv", size=len(data),
                            sha256=hashlib.sha256(data).hexdigest())
print(upload.pk)
"""

MAKE_SUBMISSION = """
from submissions.models import FormSubmission
from submissions.services import submission_enqueue
row = FormSubmission.objects.create(form_type="contact", data={"name": "Asha", "email": "asha@example.com",
                                                               "message": "Hello"})
submission_enqueue(row.pk)
print(row.pk)
"""

SWEEP = "from uploads.tasks import upload_requeue_stale; print(upload_requeue_stale())"


class PausingFileBackend(filebased.EmailBackend):
    """
    Django's file backend (one file per send) that, once the message is written, waits for a `go` file:
    the test restarts PostgreSQL in that pause, between sending and committing. Loaded by the worker
    through EMAIL_BACKEND.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, file_path=os.environ["TASK_FAULTS_MAIL_DIR"], **kwargs)

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        go = Path(self.file_path) / "go"
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        return sent


class Worker:
    def __init__(self, env: dict, log: Path):
        self.log = log
        self._log_file = log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-c", "1", "-P", "prefork"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """The whole worker, parent and children, as a host failure would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log_file.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if not self._log_file.closed:
            self._log_file.close()


class SilentScanner:
    """A clamd that accepts connections and never answers: a scan that hangs until the worker dies."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.scanning = threading.Event()
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                self.held.append(conn)
                self.scanning.set()

    def close(self):
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def stack(settings):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL) for a real broker")
    pg_dir = Path(tempfile.mkdtemp(prefix="tasks-pg-"))
    base = Path(tempfile.mkdtemp(prefix="tasks-app-"))
    cluster = Cluster(pg_dir)
    workers = []
    try:
        cluster.start()
        cluster.create_database("indivillage")
        env = app_env(cluster, "indivillage", base / "var") | TIMINGS
        env.pop("CLAMAV_URL", None)
        _manage(env, "migrate", "--noinput")
        subprocess.run(  # nothing another run left on this Redis database's queue
            [sys.executable, "-m", "celery", "-A", "config", "purge", "-f"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=60,
            check=True,
        )

        def start_worker(**extra) -> Worker:
            worker = Worker(env | extra, base / "worker.log")
            workers.append(worker)
            return worker

        yield cluster, env, start_worker, base / "worker.log"
    finally:
        for worker in workers:
            worker.stop()
        with contextlib.suppress(RuntimeError):
            cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(pg_dir, ignore_errors=True)


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def _row(cluster: Cluster, upload_id: str) -> tuple[str, int]:
    with psycopg.connect(cluster.url("indivillage"), autocommit=True) as conn:
        status = conn.execute("SELECT status FROM uploads_fileupload WHERE id = %s", [upload_id]).fetchone()[
            0
        ]
        analyses = conn.execute(
            "SELECT count(*) FROM uploads_fileanalysis WHERE upload_id = %s", [upload_id]
        ).fetchone()[0]
    return status, analyses


def test_postgres_down_when_the_task_starts_is_retried_until_it_is_back(stack):
    cluster, env, start_worker, log = stack
    upload_id = _manage(env, "shell", "-c", MAKE_UPLOAD)  # queued on commit; no worker yet
    cluster.stop()
    start_worker()
    wait_until(lambda: "Retry in" in log.read_text(), within=60, what="the task retried", log=log)
    cluster.start()
    took = wait_until(
        lambda: _row(cluster, upload_id)[0] == "completed", within=60, what="completed", log=log
    )
    print(f"\nPostgreSQL back -> upload completed in {took:.1f} s")
    assert _row(cluster, upload_id) == ("completed", 1)
    assert "raised unexpected" not in log.read_text()


def test_a_whole_worker_crash_mid_scan_is_requeued_by_the_sweep_and_analysed_once(stack):
    cluster, env, start_worker, log = stack
    scanner = SilentScanner()
    try:
        worker = start_worker(CLAMAV_URL=scanner.url, CLAMAV_TIMEOUT="300")
        upload_id = _manage(env, "shell", "-c", MAKE_UPLOAD)
        wait_until(scanner.scanning.is_set, within=60, what="the scan started", log=log)
        assert _row(cluster, upload_id) == ("processing", 0)
        worker.kill()
    finally:
        scanner.close()

    start_worker()  # a new worker: the old message stays unacked in Redis for the visibility timeout
    assert _manage(env, "shell", "-c", SWEEP) == "0"  # younger than UPLOAD_STALE_AFTER: left alone
    assert _row(cluster, upload_id) == ("processing", 0)

    # Past the threshold (dated back rather than waited for).
    with psycopg.connect(cluster.url("indivillage"), autocommit=True) as conn:
        conn.execute(
            "UPDATE uploads_fileupload SET updated_at = now() - interval '71 seconds' WHERE id = %s",
            [upload_id],
        )
    assert _manage(env, "shell", "-c", SWEEP) == "1"
    took = wait_until(
        lambda: _row(cluster, upload_id)[0] == "completed", within=60, what="completed", log=log
    )
    print(f"\nsweep -> upload completed in {took:.1f} s")
    assert _row(cluster, upload_id) == ("completed", 1)


def test_postgres_restarting_between_sending_and_completing_sends_no_second_email(stack, tmp_path):
    cluster, env, start_worker, log = stack
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    start_worker(
        EMAIL_BACKEND=f"{__name__}.PausingFileBackend",
        TASK_FAULTS_MAIL_DIR=str(mail_dir),
        PYTHONPATH=str(ROOT),
    )
    submission_id = _manage(env, "shell", "-c", MAKE_SUBMISSION)
    wait_until(lambda: any(mail_dir.glob("*.log")), within=60, what="the e-mail left", log=log)
    cluster.stop()
    cluster.start()
    (mail_dir / "go").touch()

    def ended():
        with psycopg.connect(cluster.url("indivillage"), autocommit=True) as conn:
            row = conn.execute(
                "SELECT status, error FROM submissions_formsubmission WHERE id = %s", [submission_id]
            ).fetchone()
        return row if row[0] in ("completed", "failed") else None

    wait_until(ended, within=90, what="the submission ended", log=log)
    status, error = ended()
    print(f"\nafter the restart: {status}: {error[:80]}")
    assert len(list(mail_dir.glob("*.log"))) == 1
    assert status == "failed" and "never confirmed" in error
