"""
Private servers for outage tests and the fault suite (ops/tests/test_outage.py, bench/faults.py): a
throw-away PostgreSQL cluster and Redis on free loopback ports, the app under gunicorn with
config/gunicorn.py as the Dockerfile runs it, and nginx with deploy/nginx/indivillage.conf in front of an
app (config/tests/test_nginx_cache.py, bench/api.py). The shared servers are never stopped: whoever kills or
restarts a server starts its own here.

initdb and pg_ctl refuse to run as root: as root (CI) they run as the `postgres` user, in a folder it
owns. Nothing here imports Django, so a bench script can use it before any settings exist.
"""

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Dummy secrets: production settings refuse to start without them.
PRODUCTION_SECRETS = {
    "DJANGO_SECRET_KEY": "private-stack-secret-key-" + "x" * 40,
    "FIELD_ENCRYPTION_KEY": "private-stack-field-key",
    "BLIND_INDEX_KEY": "private-stack-blind-index-key",
    "AUDIT_CHAIN_KEY": "private-stack-audit-chain-key",
}


def production_env(*, database_url: str, var_dir: Path, **extra: str) -> dict:
    """
    The environment of the app in production settings on private servers: this process's environment
    without its database, cache, broker and settings variables (a test run's own must not leak in),
    dummy secrets, loopback hosts, no HTTPS redirect, lead-form throttles lifted (every request comes
    from 127.0.0.1), no clamd (the faults are elsewhere), and `extra` on top.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "DJANGO_", "REDIS_", "CELERY_", "READINESS_", "CACHE_"))
        and key not in ("REQUIRE_POSTGRES", "PYTEST_CURRENT_TEST", "CLAMAV_URL", "EMAIL_BACKEND")
    }
    env.update(PRODUCTION_SECRETS)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DATABASE_URL=database_url,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        CLAMAV_DISABLED="true",
        VAR_DIR=str(var_dir),
        LOG_LEVEL="WARNING",
        LEAD_FORM_LIMIT_PER_IP="100000000",
        LEAD_FORM_LIMIT_PER_EMAIL="100000000",
    )
    env.update(extra)
    return env


def embedded_env(*, var_dir: Path, **extra: str) -> dict:
    """
    The environment of `manage.py` as a newcomer runs it (embedded: SQLite and the file cache under
    `var_dir`, no other service): this process's environment without a test run's own settings.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "DJANGO_", "REDIS_", "CELERY_", "CACHE_"))
        and key not in ("REQUIRE_POSTGRES", "PYTEST_CURRENT_TEST")
    }
    return {**env, "VAR_DIR": str(var_dir), "CLAMAV_DISABLED": "true", "PYTHONPATH": str(ROOT), **extra}


def wait_until(predicate, *, within: float, what: str = "the condition", log: Path | None = None) -> float:
    """Polls `predicate` every 0.25 s; the seconds it took, or AssertionError (with the log's tail)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.25)
    tail = f"\n{log.read_text()[-4000:]}" if log is not None and log.exists() else ""
    raise AssertionError(f"{what}: not true within {within} s{tail}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin(configured: str = "") -> Path:
    """The folder of initdb and pg_ctl: PG_BIN_DIR if set, else the newest Debian one, else PATH."""
    candidates = [Path(configured)] if configured else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("no initdb found: install PostgreSQL's server programs or set PG_BIN_DIR")


@dataclass
class Response:
    status_code: int
    headers: Message
    text: str

    def json(self):
        return json.loads(self.text)


def fetch(
    url: str, *, headers: dict | None = None, timeout: float, data: bytes | None = None, method: str = ""
) -> Response:
    """One HTTP request with the standard library; an HTTP error status is an answer, not an exception."""
    # Loopback URLs the caller builds, never user input.
    request = urllib.request.Request(url, headers=headers or {}, data=data, method=method or None)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return Response(answer.status, answer.headers, answer.read().decode())
    except urllib.error.HTTPError as answer:
        with answer:
            return Response(answer.code, answer.headers, answer.read().decode())


class Cluster:
    """A throw-away PostgreSQL cluster on a free loopback port, trust authentication."""

    def __init__(self, base: Path, *, password: str = "", bin_dir: str = ""):
        self.bin = pg_bin(bin_dir or os.environ.get("PG_BIN_DIR", ""))
        self.base = base
        self.data = base / "data"
        self.log = base / "postgres.log"
        self.port = free_port()
        # Trust authentication ignores it: a canary a test can look for in what the app shows.
        self.password = password
        # -c settings of every start, kept so that a restart brings the same server back.
        self.server_settings: dict[str, str] = {}
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(base, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}\n{log}")

    def start(self, **server_settings: str) -> None:
        """
        `server_settings` are more -c settings (values without spaces: the rest go in ALTER SYSTEM),
        kept for every later start: a restart brings the same server back.
        """
        self.server_settings.update(server_settings)
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += "".join(f" -c {name}={value}" for name, value in self.server_settings.items())
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash as far as clients can tell: no session is told, recovery on start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str) -> str:
        auth = f"postgres:{self.password}" if self.password else "postgres"
        return f"postgres://{auth}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')


class Redis:
    """A redis-server on a free loopback port that never writes to disk."""

    def __init__(self, base: Path):
        self.base = base
        self.port = free_port()
        self.log = base / "redis.log"
        self.process = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        program = shutil.which("redis-server")
        if program is None:
            raise RuntimeError("no redis-server found: apt-get install redis-server")
        self.process = subprocess.Popen(  # noqa: S603
            [program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(self.base), "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer in 20 s: {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Server:
    """The app under gunicorn with config/gunicorn.py, as the Dockerfile runs it."""

    def __init__(self, env: dict, log: Path, *, workers: int = 2):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config", "config/gunicorn.py"]
            + ["--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if fetch(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer in 60 s:\n{self.log.read_text()[-3000:]}")

    def get(self, path: str, headers: dict | None = None) -> tuple[Response, float]:
        started = time.monotonic()
        response = fetch(self.base_url + path, headers=headers, timeout=30)
        return response, time.monotonic() - started

    def post(self, path: str, body: dict, headers: dict | None = None) -> tuple[Response, float]:
        headers = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
        started = time.monotonic()
        response = fetch(self.base_url + path, headers=headers, data=json.dumps(body).encode(), timeout=30)
        return response, time.monotonic() - started

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log_file.close()


NGINX_CONF = ROOT / "deploy" / "nginx" / "indivillage.conf"


def render_nginx_conf(
    *, listen: str, upstream: str, cache_dir: Path, access_log: Path | str, media_root: Path | None = None
) -> str:
    """deploy/nginx/indivillage.conf with its ${NGINX_*} names filled in, as envsubst would."""
    values = {
        "NGINX_LISTEN": listen,
        "NGINX_UPSTREAM": upstream,
        "NGINX_CACHE_DIR": str(cache_dir),
        "NGINX_ACCESS_LOG": str(access_log),
        "NGINX_MEDIA_ROOT": str(media_root or Path(cache_dir).parent / "media"),
    }
    # safe_substitute leaves nginx's own $variables alone.
    text = string.Template(NGINX_CONF.read_text()).safe_substitute(values)
    if "${NGINX_" in text:
        raise RuntimeError(f"{NGINX_CONF} names a variable render_nginx_conf does not fill in")
    return text


class Nginx:
    """
    nginx with deploy/nginx/indivillage.conf on a free loopback port in front of `upstream` (host:port),
    everything under `base`: cache, logs, pid and temporary files. As root its workers run as root too
    (Debian's default user could not write to a private temporary folder).
    """

    def __init__(self, base: Path, upstream: str, *, workers: int = 1, access_log: str = ""):
        self.program = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
        if self.program is None:
            raise RuntimeError("no nginx found: apt-get install nginx")
        self.base = base
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.error_log = base / "error.log"
        self.access_log = Path(access_log) if access_log else base / "access.log"
        self.cache_dir = base / "cache"
        self.process = None
        (base / "indivillage.conf").write_text(
            render_nginx_conf(
                listen=f"127.0.0.1:{self.port}",
                upstream=upstream,
                cache_dir=self.cache_dir,
                access_log=self.access_log,
            )
        )
        temp = "\n".join(
            f"    {kind}_temp_path {base / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        user = "user root root;\n" if os.geteuid() == 0 else ""
        (base / "nginx.conf").write_text(
            f"{user}worker_processes {workers};\ndaemon off;\npid {base / 'nginx.pid'};\n"
            f"error_log {self.error_log} warn;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n    default_type application/octet-stream;\n{temp}\n"
            f"    include {base / 'indivillage.conf'};\n}}\n"
        )

    def start(self) -> None:
        # -e: the error log before the configuration is read (the default, /var/log/nginx, is not ours).
        self.process = subprocess.Popen(  # noqa: S603
            [
                self.program,
                "-p",
                str(self.base),
                "-c",
                str(self.base / "nginx.conf"),
                "-e",
                str(self.error_log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{self.error_log.read_text()[-3000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen in 20 s: {self.error_log}")

    def get(self, path: str, headers: dict | None = None, method: str = "") -> Response:
        return fetch(self.base_url + path, headers=headers, timeout=30, method=method)

    def stop(self) -> None:
        """SIGQUIT: the master waits for its workers to finish their requests, then exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
