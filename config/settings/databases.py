"""
DATABASES entries from URLs, and the connection pool's size per environment (docs/database.md, "The
connection pool"). Not a settings module: base.py, test.py and production.py call it.
"""

# The seeds' tiers, as (size, overflow): `size` connections are kept open, up to `overflow` more are
# opened under load and closed again after DATABASE_POOL_MAX_IDLE. psycopg-pool's names for them:
# min_size = size, max_size = size + overflow.
POOL_TIERS = {
    "development": (5, 10),
    "test": (3, 5),
    "production": (20, 30),
}


def pool_options(env, tier: str) -> dict:
    """psycopg-pool's settings for `tier`, each overridable from the environment."""
    size, overflow = POOL_TIERS[tier]
    min_size = env.int("DATABASE_POOL_MIN_SIZE", default=size)
    return {
        "min_size": min_size,
        "max_size": max(min_size, env.int("DATABASE_POOL_MAX_SIZE", default=size + overflow)),
        # Seconds a request waits for a pooled connection. A missing database makes every attempt wait
        # this long, holding a gunicorn thread: kept under READINESS_CHECK_TIMEOUT, so that /readyz
        # reports the outage itself and the threads free up before a probe gives up (docs/health.md).
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=1.0),
        # Recycling: a connection is replaced after this many seconds (psycopg-pool adds up to 5 %
        # jitter, so that a pool's connections are not all replaced at once)...
        "max_lifetime": env.float("DATABASE_POOL_MAX_LIFETIME", default=1800.0),
        # ...and one above min_size that stayed unused this long is closed (the overflow going away).
        "max_idle": env.float("DATABASE_POOL_MAX_IDLE", default=300.0),
    }


def database_config(env, url: str, tier: str) -> dict:
    """A DATABASES entry for `url`: PostgreSQL gets Django's native psycopg pool and sslmode from env."""
    config = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.postgresql":
        options = config.setdefault("OPTIONS", {})
        if env.bool("DATABASE_POOL", default=True):
            options["pool"] = pool_options(env, tier)
        sslmode = env.str("DATABASE_SSLMODE", default="")
        if sslmode:
            options["sslmode"] = sslmode
        options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3))
        # The pool replaces persistent connections: CONN_MAX_AGE must stay 0 with it.
        config["CONN_MAX_AGE"] = 0
        # The check before use is common.pools' poll of each connection's socket as it leaves the pool
        # (no round trip), which replaces one the server closed. psycopg-pool's own `check` (Django
        # hands it CONN_HEALTH_CHECKS) adds a round trip per checkout and sleeps a backoff after a failed
        # one: with it, a restart failed one or two requests that the poll saves (docs/health.md).
        config["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_POOL_CHECK", default=False)
    return config


def pool_tier_apply(env, databases: dict, tier: str) -> None:
    """Gives every pooled alias the sizes of `tier` (production.py and test.py, after base.py)."""
    for config in databases.values():
        pool = config.get("OPTIONS", {}).get("pool")
        if pool:
            config["OPTIONS"]["pool"] = {**pool, **pool_options(env, tier)}
