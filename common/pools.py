"""
Django's native database pools: across a fork (gunicorn's workers: config/gunicorn.py; Celery's prefork
children: config/celery_app.py), after the server closed their connections (a restart), and as the
metrics read them. Imports are deferred: gunicorn loads its config before Django is set up.
"""

import logging
import select
import sys
import threading
import weakref

logger = logging.getLogger(__name__)


POSTGRESQL_BACKEND = "django.db.backends.postgresql.base"


def _backend_pools() -> dict:
    """
    The PostgreSQL backend's pools of this process, by alias: the one place that reads Django's
    internals. Django's public `connection.pool` creates a pool where there is none, and `close_pool()`
    closes one; nothing public tells whether one exists, or drops one without closing it (after a fork).
    common/tests/test_pools.py fails if an upgrade changes what this reads.
    """
    base = sys.modules.get(POSTGRESQL_BACKEND)
    return {} if base is None else base.DatabaseWrapper._connection_pools


def database_pool(alias: str):
    """The pool of `alias` if this process has opened one, else None (never opens one to answer)."""
    return _backend_pools().get(alias)


def database_pools_close() -> None:
    """In the process that opened them: returns every connection and closes every database pool."""
    if POSTGRESQL_BACKEND not in sys.modules:
        return  # PostgreSQL was never used in this process: there is no pool to close.
    from django.db import connections

    pools = _backend_pools()

    for connection in connections.all(initialized_only=True):
        connection.close()
    while pools:
        _, pool = pools.popitem()
        pool.close()


def database_pools_forget() -> int:
    """
    In a freshly forked child: drops the database pools and connections inherited from the parent
    without closing them, and returns how many connections it let go. Dropping them is silent: psycopg
    finalises a connection only in the process that opened it (its PGconn remembers the pid), so their
    sockets stay open here, unused, until this process ends. The child opens its own pool on first use.
    """
    if POSTGRESQL_BACKEND not in sys.modules:
        return 0  # PostgreSQL was never used in this process: nothing was inherited.
    from django.db import connections

    pools = _backend_pools()
    dropped = 0
    for pool in pools.values():
        dropped += pool.get_stats().get("pool_available", 0)  # its idle connections
        _pool_forget(pool)
    pools.clear()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            connection.connection = None
            dropped += 1
    return dropped


def _pool_forget(pool) -> None:
    """
    Marks an inherited pool closed without closing it: its finaliser then returns at once instead of
    signalling worker threads that did not survive the fork, through locks that may have been held when
    it happened. psycopg_pool has no public way (close() ends the parent's sessions), so this sets its
    `_closed` flag; psycopg-pool is pinned in requirements.txt and common/tests/test_pools.py fails if
    the flag goes.
    """
    pool._closed = True


# --- connections the server closed, noticed at checkout ---------------------------------------------

_replacing = threading.local()


def _closed_by_server(raw) -> bool:
    """
    Whether the server has written to, or hung up, an idle pooled connection. On an idle connection it
    never writes, except to say it is terminating it (a restart, a failover, pg_terminate_backend)
    before it hangs up: a poll of the socket, no round trip. A connection lost without a word (a
    network cut, a killed host) is not seen here; its first query fails and the pool is drained then
    (database_pools_discard_broken, below).
    """
    try:
        fd = raw.fileno()
    except Exception:
        return True  # psycopg closed it already
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # pragma: no cover - no poll() (Windows)


def database_connection_replace_if_closed(sender, connection, **kwargs) -> None:
    """
    connection_created receiver (common.apps): a pooled connection the server closed while it sat idle is
    swapped for a new one before any query, and the pool drained, so that a restart fails no request at
    all, reads and writes alike, and however many threads check out at once. psycopg_pool's own check
    (CONN_HEALTH_CHECKS) costs a round trip per checkout and sleeps a backoff after a failed one.
    """
    # The pool this connection was just taken from (None when unpooled, and on SQLite).
    pool = getattr(connection, "pool", None)
    raw = connection.connection
    if pool is None or raw is None or getattr(_replacing, "active", False):
        return
    if not _closed_by_server(raw):
        return
    logger.warning(
        "Database connection closed by the server while idle: pool drained for %s", connection.alias
    )
    pool.drain()
    _replacing.active = True
    try:
        connection.connection = None
        pool.putconn(raw)  # older than the drain: the pool closes it
        connection.connect()  # a new connection from the pool (PoolTimeout if there is none: a 503)
    finally:
        _replacing.active = False


# Per pool, its count of bad returns at the last look: kept beside the pool rather than on it.
_returns_bad_seen: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _returned_broken(pool) -> bool:
    """
    Whether a connection came back to `pool` closed by the server since the last look. A write fails
    inside transaction.atomic(), whose exit closes the broken connection (back to the pool, which
    discards it) before any handler sees it: only the pool's count of bad returns remembers it.
    """
    returned_bad = pool.get_stats().get("returns_bad", 0)
    seen = _returns_bad_seen.get(pool, 0)
    _returns_bad_seen[pool] = returned_bad
    return returned_bad > seen


def database_pools_discard_broken() -> list[str]:
    """
    Drains the pool of every database whose connection the server has closed, and returns their aliases:
    a pool learns of a restart one connection at a time, so without this every connection left idle
    across it would fail one request. Costs nothing until a connection breaks (docs/health.md, "After a
    restart").
    """
    from django.db import connections

    drained = []
    for connection in connections.all(initialized_only=True):
        pool = database_pool(connection.alias)
        if pool is None:
            continue
        raw = connection.connection
        # Both looked at, always: the look at the count also marks those returns as seen.
        returned_broken = _returned_broken(pool)
        if returned_broken or (raw is not None and getattr(raw, "broken", False)):
            pool.drain()
            drained.append(connection.alias)
    if drained:
        logger.warning("Database connection closed by the server: pool drained for %s", ", ".join(drained))
    return drained
