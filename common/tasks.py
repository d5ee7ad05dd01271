"""
The retry policy every Celery task shares, on Celery's own extension points (`autoretry_for`,
`retry_backoff`, `retry_jitter`): a task whose database or broker is briefly away, on its first query as
on its last, is retried with backoff instead of being acked as failed and lost.
"""

import kombu.exceptions
import redis.exceptions
from celery import Task, current_app, shared_task
from celery.exceptions import Retry
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import caching

# What an outage raises, not a bug: PostgreSQL restarting or unreachable, the broker or Redis likewise.
TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)


class RetryingTask(Task):
    """
    The base of every task (`@shared_task(base=RetryingTask)`): acked late, requeued when its worker
    dies, and retried on TRANSIENT_ERRORS with exponential backoff and full jitter (so that the tasks an
    outage stopped do not all come back in the same second). Countdowns never exceed
    TASK_RETRY_BACKOFF_MAX, which the broker's visibility timeout is sized from (config/settings/base.py).
    A task widens `autoretry_for` with its own transient errors, and handles its last failure itself by
    checking `self.request.retries < self.max_retries` before re-raising.
    """

    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    max_retries = 5
    retry_backoff = 10  # seconds before the first retry, doubling: 10, 20, 40, 80, 160 (at most)
    retry_backoff_max = settings.TASK_RETRY_BACKOFF_MAX
    retry_jitter = True

    def __call__(self, *args, **kwargs):
        # Run eagerly (tests, the embedded mode) with task_eager_propagates, a raised Retry would escape
        # apply() instead of retrying; returned, it makes apply() run the next attempt in-process. Calls
        # self.run as Celery's docs do for custom __call__ (Task.__call__ would push a blank request).
        try:
            return self.run(*args, **kwargs)
        except Retry as retry:
            if self.request.is_eager and retry.sig is not None:
                return retry
            raise


@shared_task(base=RetryingTask)
def public_cache_warm(paths: list[str], version: str | None = None) -> dict:
    """Renders `paths` into the public cache; skipped when a newer content version has been set since."""
    if version is not None and caching.content_version() != version:
        return {"skipped": len(paths)}
    return caching.public_cache_warm(paths)


def task_delay(name: str, *args, **kwargs):
    """
    Queues the registered task `name` (its module path, e.g. "uploads.tasks.upload_process"). Services
    queue their tasks by name because the tasks import the services they call: importing the tasks back
    would be a cycle. Each app registers its tasks in AppConfig.ready(); an unknown name is a KeyError.
    """
    return current_app.tasks[name].delay(*args, **kwargs)
