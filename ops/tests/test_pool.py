"""
Django's native psycopg pool across a fork (config/gunicorn.py, config/celery_app.py), with a real fork
of the test process and real PostgreSQL sessions: the child must open sessions of its own, and the
parent's sessions must outlive whatever the child does with what it inherited.

Whether a parent's session is alive is asked of the server (pg_stat_activity), not of the client
objects, which cannot know that another process ended their session.
"""

import gc
import json
import os
import time
from types import SimpleNamespace

import psycopg
import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import worker_process_init
from django.db import connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper

from common import pools
from config import gunicorn as gunicorn_conf
from config.celery_app import app

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_pools():
    """Each test starts and ends with no pool open in the test process."""
    pools.database_pools_close()
    yield
    pools.database_pools_close()


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _in_child(work) -> dict:
    """Runs `work` in a forked child and returns what it returned (a dict), or the error it raised."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read)
            try:
                result = work()
            except BaseException as exc:
                result = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(write, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def _child_queries(prepare) -> dict:
    """The child: prepare (a hook), query through Django, then let go of everything, as a worker exits."""
    forgot = prepare()
    pid = _backend_pid()
    gc.collect()  # whatever was inherited and dropped is finalised now, not at some later time
    pools.database_pools_close()
    return {"pid": pid, "forgot": forgot}


def _parent_holds_sessions() -> tuple[int, set[int]]:
    """An open pool with one connection checked out by Django (returned pid) and two idle ones."""
    held = _backend_pid()
    pool = connection.pool
    idle = [pool.getconn(), pool.getconn()]
    idle_pids = {conn.info.backend_pid for conn in idle}
    for conn in idle:
        pool.putconn(conn)
    assert held not in idle_pids and len(idle_pids) == 2
    return held, idle_pids


def _alive(pids: set[int], *, expect: bool, within: float = 5.0) -> set[int]:
    """The pids among `pids` the server still runs, once it shows `expect` for all (or time is up)."""
    deadline = time.monotonic() + within
    # A session of its own: the ones under test may be the dead ones.
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as observer:
        while True:
            rows = observer.execute("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)])
            alive = {row[0] for row in rows.fetchall()}
            if (alive == pids) == expect or time.monotonic() > deadline:
                return alive
            time.sleep(0.05)


def _assert_parent_sessions_intact(held: int, idle_pids: set[int]) -> None:
    assert _backend_pid() == held  # the connection Django held across the fork still works
    assert _alive(idle_pids, expect=True) == idle_pids
    pool = connection.pool
    conns = [pool.getconn(), pool.getconn()]
    try:
        # The pool hands back the same sessions (its check would have replaced dead ones), working.
        assert {conn.info.backend_pid for conn in conns} == idle_pids
        for conn in conns:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        for conn in conns:
            pool.putconn(conn)
    assert pool.get_stats().get("connections_lost", 0) == 0


def test_gunicorn_master_closes_its_pool_before_forking_and_the_worker_opens_its_own():
    parent_pid = _backend_pid()
    opened = connection.pool
    assert DatabaseWrapper._connection_pools == {"default": opened}

    gunicorn_conf.pre_fork(server=None, worker=None)
    assert DatabaseWrapper._connection_pools == {} and opened.closed
    assert connection.connection is None

    child = _in_child(lambda: _child_queries(lambda: gunicorn_conf.post_fork(server=None, worker=None)))
    assert "error" not in child, child
    assert child["pid"] != parent_pid
    # The master itself keeps working: its next query opens a new pool.
    assert _backend_pid() != child["pid"]
    assert DatabaseWrapper._connection_pools["default"] is not opened


def test_gunicorn_worker_forgets_an_inherited_open_pool_without_ending_the_parents_sessions():
    held, idle_pids = _parent_holds_sessions()

    child = _in_child(lambda: _child_queries(pools.database_pools_forget))
    assert "error" not in child, child
    assert child["forgot"] == 3  # two idle in the pool, one held by Django
    assert child["pid"] not in idle_pids | {held}
    _assert_parent_sessions_intact(held, idle_pids)


def test_closing_an_inherited_pool_in_the_child_would_end_the_parents_sessions():
    """What the hooks prevent, shown: Django's own close_pool() in a child ends the parent's sessions."""
    held, idle_pids = _parent_holds_sessions()

    child = _in_child(lambda: _child_queries(lambda: connection.close_pool()))
    assert "error" not in child, child
    # The idle ones closed by the pool, and the held one too: the child's Django used it, then closed it.
    assert _alive(idle_pids | {held}, expect=False) == set()


def test_celery_child_forgets_the_inherited_pool_before_celerys_own_clean_up_runs():
    held, idle_pids = _parent_holds_sessions()

    def celery_child():
        # As in a prefork child: the project's receiver, then the one Celery's Django fixup connects.
        worker_process_init.send(sender=None)
        fixup = DjangoWorkerFixup(app)
        fixup.worker = SimpleNamespace(pool_cls="prefork")
        fixup.on_worker_process_init()
        return _child_queries(lambda: len(connections.all(initialized_only=True)))

    child = _in_child(celery_child)
    assert "error" not in child, child
    assert child["pid"] not in idle_pids | {held}
    _assert_parent_sessions_intact(held, idle_pids)


def test_celerys_own_clean_up_alone_would_end_the_parents_sessions():
    """Why the receiver exists: the fixup's close_pool() in the child closes the inherited pool."""
    held, idle_pids = _parent_holds_sessions()

    def fixup_only():
        fixup = DjangoWorkerFixup(app)
        fixup.worker = SimpleNamespace(pool_cls="prefork")
        fixup.on_worker_process_init()
        return {"pid": 0}

    assert "error" not in _in_child(fixup_only)
    assert _alive(idle_pids, expect=False) == set()
