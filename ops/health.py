"""
Readiness (/readyz): can this process serve traffic, and are the services around it in order? Every check
runs in a thread of its own within one budget, so the answer comes in time whatever hangs. The checks,
statuses and fail-open rules: docs/health.md.
"""

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connections
from django.utils import timezone
from django_redis.cache import RedisCache as DjangoRedisCache

from common.exceptions import DATABASE_UNAVAILABLE
from common.pools import database_pools_discard_broken
from uploads.scanning import clamd_ping

from . import monitoring
from .beat import heartbeat_age
from .routers import REPLICA
from .selectors import backup_newest_verified

logger = logging.getLogger(__name__)

OK = "ok"
WARN = "warn"
FAIL = "fail"
SKIPPED = "skipped"

# Dependencies the site serves without: their failure (or overrun) is reported as a warning.
FAIL_OPEN = frozenset({"cache", "broker"})
_FAIL_OPEN_NOTE = " (fail-open: still serving)"

# The storages the application writes to; "default" (public media) and "staticfiles" are read-only here.
PROBED_STORAGES = ("private", "backups")


@dataclass(frozen=True)
class CheckOutcome:
    """What a check function returns: its verdict and a detail that is safe to show anyone."""

    status: str
    detail: str = ""


@dataclass(frozen=True)
class CheckResult:
    status: str
    latency_ms: float
    detail: str

    def as_dict(self) -> dict:
        return {"status": self.status, "latency_ms": self.latency_ms, "detail": self.detail}


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, CheckResult]

    @property
    def status(self) -> str:
        # "warn" at the top too, so that a glance at the first line sees it; only "fail" means 503.
        statuses = {r.status for r in self.checks.values()}
        return FAIL if FAIL in statuses else WARN if WARN in statuses else OK

    @property
    def http_status(self) -> int:
        return 503 if self.status == FAIL else 200

    def as_dict(self) -> dict:
        return {"status": self.status, "checks": {name: r.as_dict() for name, r in self.checks.items()}}


def _describe(exc: BaseException) -> str:
    """The class of an exception (and of its cause, when Django wrapped a driver's): never its text."""
    name = type(exc).__name__
    cause = exc.__cause__
    if cause is not None and type(cause).__name__ != name:
        name += f" ({type(cause).__name__})"
    return name


def age_text(age: timedelta) -> str:
    """Two units at most, the smaller left out when it is zero: "90 s", "12 min", "48 h", "3 d 4 h"."""
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds <= 2 * 86400:
        big, small, units = seconds // 3600, seconds % 3600 // 60, ("h", "min")
    else:
        big, small, units = seconds // 86400, seconds % 86400 // 3600, ("d", "h")
    return f"{big} {units[0]}" + (f" {small} {units[1]}" if small else "")


def _late(detail: str) -> CheckOutcome:
    return CheckOutcome(FAIL if settings.READINESS_STRICT else WARN, detail)


def _age_outcome(age: timedelta | None, limit: timedelta, *, what: str, never: str) -> CheckOutcome:
    if age is None:
        return _late(never)
    text = f"{what} {age_text(age)} ago (limit {age_text(limit)})"
    return CheckOutcome(OK, text) if age <= limit else _late(text)


def _again_if_connection_was_closed(func, *args):
    """
    Runs func(*args), and once more if it failed on a pooled connection the server had closed (one
    left idle across a restart): that says nothing of the server now. The pool is drained first
    (common.exceptions), so the second try gets a new connection.
    """
    try:
        return func(*args)
    except DATABASE_UNAVAILABLE:
        if not database_pools_discard_broken():
            raise
        connections.close_all()
        return func(*args)


def _select_one(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


# --- the checks ------------------------------------------------------------------------------------
# Each takes the budget in seconds (for clients that need a timeout of their own) and returns a
# CheckOutcome, or raises: an exception is a failure.


def check_database(timeout: float) -> CheckOutcome:
    """
    SELECT 1 on every configured database (the primary and, when there is one, the replica). Only the
    primary failing fails the check: without the replica the router reads the primary (ops.routers,
    replica_rest), so the site still answers, and failing every instance's readiness for it would take
    the whole site out of the load balancer.
    """
    failed = []
    for alias in settings.DATABASES:
        try:
            _again_if_connection_was_closed(_select_one, alias)
        except Exception as exc:
            logger.warning("readiness: database %s failed", alias, exc_info=True)
            failed.append((alias, f"{alias}: {_describe(exc)}"))
    if not failed:
        return CheckOutcome(OK, "SELECT 1 on " + ", ".join(settings.DATABASES))
    detail = "; ".join(text for _, text in failed)
    if any(alias != REPLICA for alias, _ in failed):
        return CheckOutcome(FAIL, detail)
    return CheckOutcome(WARN, detail + " (reads go to the primary meanwhile)")


def check_cache(timeout: float) -> CheckOutcome:
    """A value written to each cache must come back."""
    token = secrets.token_hex(8)
    key = f"readyz:{token}"
    kinds = []
    for alias in settings.CACHES:
        cache = caches[alias]
        if isinstance(cache, DjangoRedisCache):
            # django-redis is configured with IGNORE_EXCEPTIONS: its get/set answer None when Redis is
            # down. Only the raw client says so.
            client = cache.client.get_client(write=True)
            raw_key = cache.make_key(key)
            client.set(raw_key, token, ex=60)
            found = client.get(raw_key)
            client.delete(raw_key)
            found = found.decode() if isinstance(found, bytes) else found
            kinds.append(f"{alias} (redis)")
        else:
            cache.set(key, token, 60)
            found = cache.get(key)
            cache.delete(key)
            kinds.append(f"{alias} ({type(cache).__name__})")
        if found != token:
            return CheckOutcome(FAIL, f"{alias}: the value written did not come back")
    return CheckOutcome(OK, "round trip on " + ", ".join(kinds))


def check_broker(timeout: float) -> CheckOutcome:
    """A connection to the Celery broker; none is needed when tasks run in-process."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return CheckOutcome(SKIPPED, "tasks run in-process (CELERY_TASK_ALWAYS_EAGER)")
    from kombu import Connection

    options = {
        **getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    broker = Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=timeout,
        ssl=getattr(settings, "CELERY_BROKER_USE_SSL", False) or False,
        transport_options=options,
    )
    with broker:
        # One attempt: kombu's default retries would outlast the budget.
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, interval_max=0)
        transport = broker.transport_cls
    return CheckOutcome(OK, f"connected ({transport})")


def check_storage(timeout: float) -> CheckOutcome:
    """A small file written to, read back from and deleted from each storage the application writes."""
    token = secrets.token_hex(8).encode()
    for alias in PROBED_STORAGES:
        storage = storages[alias]
        name = storage.save(f"readyz-{token.decode()}.probe", ContentFile(token))
        try:
            with storage.open(name) as handle:
                found = handle.read()
        finally:
            storage.delete(name)
        if found != token:
            return CheckOutcome(FAIL, f"{alias}: the file written did not read back")
    return CheckOutcome(OK, "write, read and delete on " + ", ".join(PROBED_STORAGES))


def check_clamav(timeout: float) -> CheckOutcome:
    """clamd answers PING when CLAMAV_URL is set (uploads are held back without it)."""
    if not settings.CLAMAV_URL:
        if settings.CLAMAV_DISABLED:
            # Production without a scanner, on purpose: still serving, but worth a look.
            return CheckOutcome(
                WARN, "disabled (CLAMAV_DISABLED=true): uploads get the built-in EICAR check only"
            )
        return CheckOutcome(SKIPPED, "CLAMAV_URL not set: the built-in check scans uploads")
    if clamd_ping(timeout=timeout):
        return CheckOutcome(OK, "clamd answered PONG")
    return CheckOutcome(FAIL, "clamd did not answer PING")


def check_backup(timeout: float) -> CheckOutcome:
    """The newest backup that a restore verified (by when it was taken): an unverified one proves little."""
    newest = backup_newest_verified()
    age = None if newest is None else timezone.now() - newest.created_at
    return _age_outcome(
        age,
        settings.READINESS_BACKUP_MAX_AGE,
        what="newest verified backup taken",
        never="no verified backup yet",
    )


def check_beat(timeout: float) -> CheckOutcome:
    """Celery beat's heartbeat (ops.beat): a stopped beat means no backups and no retention."""
    return _age_outcome(
        heartbeat_age(), settings.READINESS_BEAT_MAX_AGE, what="last heartbeat", never="no heartbeat yet"
    )


def check_disk(timeout: float) -> CheckOutcome:
    """Free space where the app writes (uploads, backups, media): a warning before writes start failing."""
    found = monitoring.disk_space()
    problems = monitoring.disk_space_problems(found)
    if problems:
        return CheckOutcome(WARN, "low disk space: " + "; ".join(problems))
    lowest = min((entry["free_percent"] for entry in found), default=None)
    return CheckOutcome(OK, "no local storage" if lowest is None else f"lowest free space {lowest} %")


def check_wal_archive(timeout: float) -> CheckOutcome:
    """PostgreSQL's WAL archive (point-in-time recovery): a warning when archiving fails or falls behind."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return CheckOutcome(SKIPPED, "WAL archiving is PostgreSQL's")
    status = monitoring.wal_archive(connection)
    if not status["archiving"]:
        return CheckOutcome(SKIPPED, f"archive_mode is {status['mode']}")
    problem = monitoring.wal_archive_problem(status)
    if problem:
        return CheckOutcome(WARN, problem)
    waiting = status["segments_waiting"]
    return CheckOutcome(OK, "archiving" + ("" if waiting is None else f", {waiting} segments waiting"))


CHECKS: dict[str, Callable[[float], CheckOutcome]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "storage": check_storage,
    "clamav": check_clamav,
    "backup": check_backup,
    "beat": check_beat,
    "disk": check_disk,
    "wal_archive": check_wal_archive,
}


# --- running them ----------------------------------------------------------------------------------


class _Run:
    """One check in its own daemon thread: a thread left hanging never holds up the process's exit."""

    def __init__(self, name: str, check: Callable[[float], CheckOutcome], budget: float):
        self.name = name
        self.check = check
        self.budget = budget
        self.done = threading.Event()
        self.result: CheckResult | None = None
        self.thread = threading.Thread(target=self._run, name=f"readyz-{name}", daemon=True)

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            outcome = _again_if_connection_was_closed(self.check, self.budget)
        except Exception as exc:
            logger.warning("readiness: check %s failed", self.name, exc_info=True)
            outcome = CheckOutcome(FAIL, _describe(exc))
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        try:
            # This thread's connections only: a pooled one goes back to the pool (or, if broken, is
            # discarded by it) instead of waiting for a garbage collection that may never come.
            connections.close_all()
        except Exception:
            logger.warning("readiness: closing the connections of check %s failed", self.name, exc_info=True)
        self.result = CheckResult(outcome.status, latency_ms, outcome.detail)
        self.done.set()
        _forget_overrun(self)


# Checks that overran a previous probe and are still running, by name. While one is, the same check is
# not started again (it fails at once): a probe every few seconds against a hung database would
# otherwise pile up a thread per probe, each waiting on the pool in front of the requests.
_overrun: dict[str, _Run] = {}
_overrun_lock = threading.Lock()


def _forget_overrun(run: _Run) -> None:
    with _overrun_lock:
        if _overrun.get(run.name) is run:
            del _overrun[run.name]


def _still_overrunning(name: str) -> bool:
    with _overrun_lock:
        run = _overrun.get(name)
        return run is not None and not run.done.is_set()


def readiness_run(
    *, checks: dict[str, Callable[[float], CheckOutcome]] | None = None, timeout: float | None = None
) -> Readiness:
    """Runs the checks concurrently and returns within about `timeout` (READINESS_CHECK_TIMEOUT)."""
    checks = CHECKS if checks is None else checks
    budget = settings.READINESS_CHECK_TIMEOUT if timeout is None else timeout
    runs: dict[str, _Run] = {}
    results: dict[str, CheckResult] = {}
    for name, check in checks.items():
        if _still_overrunning(name):
            results[name] = CheckResult(
                FAIL, 0.0, f"timed out after {budget:g} s; the previous run has not finished yet"
            )
            continue
        runs[name] = _Run(name, check, budget)
        runs[name].thread.start()
    deadline = time.monotonic() + budget
    for name, run in runs.items():
        if run.done.wait(max(0.0, deadline - time.monotonic())) and run.result is not None:
            results[name] = run.result
            continue
        with _overrun_lock:
            if not run.done.is_set():
                _overrun[name] = run
        logger.warning("readiness: check %s timed out after %s s", name, budget)
        results[name] = CheckResult(FAIL, round(budget * 1000, 1), f"timed out after {budget:g} s")
    for name in FAIL_OPEN.intersection(results):
        result = results[name]
        if result.status == FAIL:
            results[name] = CheckResult(WARN, result.latency_ms, result.detail + _FAIL_OPEN_NOTE)
    return Readiness(checks={name: results[name] for name in checks})
