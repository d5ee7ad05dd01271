"""
gunicorn settings: `gunicorn config.wsgi:application -c config/gunicorn.py` (Dockerfile, docker-compose).
The hooks keep Django's database pools from crossing a fork; why, and preload_app: docs/health.md,
"Fork rules".
"""

import os

# config/__init__.py imports the Celery app, whose default is the local settings: without this, a
# gunicorn started with no DJANGO_SETTINGS_MODULE would serve with DEBUG on. Set through gunicorn
# (raw_env) rather than os.environ, so that importing this module elsewhere changes nothing.
if "DJANGO_SETTINGS_MODULE" not in os.environ:
    raw_env = ["DJANGO_SETTINGS_MODULE=config.settings.production"]

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Every worker process has a pool of its own, in which each of its threads holds at most one connection
# at a time (and a /readyz probe a few more, briefly): keep GUNICORN_THREADS well under
# DATABASE_POOL_MAX_SIZE, and workers x DATABASE_POOL_MAX_SIZE, summed over every host and the Celery
# workers, under the server's max_connections (docs/health.md).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads (gthread workers), so that a request waiting on the database never holds the whole process:
# with one sync thread per worker, /healthz queued behind requests waiting out the pool timeout during
# an outage (6.3-6.5 s) and the container would be restarted for a database it cannot fix.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
# Above DATABASE_POOL_TIMEOUT, so that a request waiting for a connection during an outage answers its
# 503 instead of having its worker killed.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() not in ("0", "false", "no", "off")
accesslog = "-"


def pre_fork(server, worker):
    from common.pools import database_pools_close

    database_pools_close()


def post_fork(server, worker):
    from common.pools import database_pools_forget

    database_pools_forget()
