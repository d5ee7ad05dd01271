"""
The two library internals common/pools.py relies on, held to the installed versions: an upgrade that
changes either must fail here, not silently in a forked worker.
"""

import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from common import pools


def test_psycopg_pool_still_marks_a_pool_closed_by_its_flag():
    pool = ConnectionPool("dbname=none", open=False)
    pool._closed = False  # as an open pool has it
    pools._pool_forget(pool)
    assert pool.closed is True
    # Its public count of idle connections, which the forgetting reports.
    assert pool.get_stats()["pool_available"] == 0


@pytest.mark.django_db
def test_the_backend_pools_are_djangos_own(settings):
    if connection.vendor != "postgresql" or not connection.settings_dict["OPTIONS"].get("pool"):
        from django.db.backends.postgresql.base import DatabaseWrapper

        assert isinstance(DatabaseWrapper._connection_pools, dict)
        return
    connection.ensure_connection()
    assert pools.database_pool("default") is connection.pool
    assert pools._backend_pools()["default"] is connection.pool
