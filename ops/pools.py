"""
Django's native database pools across a fork (gunicorn's workers: config/gunicorn.py; Celery's prefork
children: config/celery_app.py). Why a pool must never cross a fork is explained in config/gunicorn.py.
Imports are deferred: gunicorn loads its config before Django is set up.

Also: pooled connections the server closed while they sat idle (a restart), swapped at checkout.
"""

import logging
import select
import sys
import threading

logger = logging.getLogger(__name__)


def database_pools_close() -> None:
    """In the process that opened them: returns every connection and closes every database pool."""
    base = sys.modules.get("django.db.backends.postgresql.base")
    if base is None:
        return  # PostgreSQL was never used in this process: there is no pool to close.
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
    pools = base.DatabaseWrapper._connection_pools
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
    base = sys.modules.get("django.db.backends.postgresql.base")
    if base is None:
        return 0
    from django.db import connections

    dropped = 0
    pools = base.DatabaseWrapper._connection_pools
    for pool in pools.values():
        dropped += len(pool._pool)  # its idle connections (psycopg_pool has no public count of them)
        # Marked closed, the pool's own finaliser returns at once instead of signalling worker threads
        # that did not survive the fork through locks that may have been held when it happened.
        # psycopg-pool is pinned in requirements.txt; ops/tests/test_pool.py holds it to this.
        pool._closed = True
    pools.clear()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            connection.connection = None
            dropped += 1
    return dropped


# --- connections the server closed, noticed at checkout ---------------------------------------------

_replacing = threading.local()


def _closed_by_server(raw) -> bool:
    """
    Whether the server has written to, or hung up, an idle pooled connection. On an idle connection it
    never writes, except to say it is terminating it (a restart, a failover, pg_terminate_backend)
    before it hangs up: a poll of the socket, no round trip. A connection lost without a word (a
    network cut, a killed host) is not seen here; its first query fails and the pool is drained then
    (common.exceptions.database_pools_discard_broken).
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
    connection_created receiver (ops.apps): a pooled connection the server closed while it sat idle is
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
