"""The real services the second CI run brings: the pool, the Redis cache failing open, Celery wiring."""

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection

from config.celery_app import app


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_connections_come_from_the_native_pool():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    pool = connection.pool
    assert pool is not None
    configured = settings.DATABASES["default"]["OPTIONS"]["pool"]
    assert (pool.min_size, pool.max_size) == (configured["min_size"], configured["max_size"])
    # The test tier (config/settings/databases.py), unless the environment overrides it.
    assert settings.DATABASE_POOL_TIER == "test"
    assert pool.get_stats()["pool_size"] >= 1


@pytest.mark.skipif(
    not settings.REDIS_URL and not __import__("os").environ.get("REQUIRE_POSTGRES"), reason="needs REDIS_URL"
)
def test_redis_cache_round_trips():
    cache = caches["default"]
    cache.set("probe", {"a": 1}, 30)
    assert cache.get("probe") == {"a": 1}


def test_unreachable_redis_fails_open_quickly():
    from django.core.cache.backends.base import InvalidCacheBackendError  # noqa: F401
    from django_redis.cache import RedisCache

    dead = RedisCache(
        "redis://127.0.0.1:1/0",
        {"OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True}},
    )
    dead.set("k", "v")
    assert dead.get("k", default="fallback") == "fallback"


def test_celery_reads_django_settings():
    assert app.conf.task_acks_late is True
    assert app.conf.task_always_eager is True  # the test settings run tasks in-process
    assert app.conf.beat_scheduler == "ops.beat:HeartbeatScheduler"
    from django_celery_beat.schedulers import DatabaseScheduler

    from ops.beat import HeartbeatScheduler

    assert issubclass(HeartbeatScheduler, DatabaseScheduler)
