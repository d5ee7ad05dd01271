"""
Django's native database pools across a fork (gunicorn's workers: config/gunicorn.py; Celery's prefork
children: config/celery_app.py). Why a pool must never cross a fork is explained in config/gunicorn.py.
Imports are deferred: gunicorn loads its config before Django is set up.
"""

import sys


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
