"""Startup checks that the Celery timing settings agree with one another (docs/uploads.md, "Reliability")."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.compatibility)
def celery_timing_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """
    A message the broker redelivers while its first worker still runs it is a duplicate run, so the
    visibility timeout must outlast the longest task (hard time limit) plus the longest retry countdown;
    and the upload sweep must not queue again an upload a live worker may still hold.
    """
    errors = []
    longest = max(settings.CELERY_TASK_TIME_LIMIT, settings.UPLOAD_TASK_TIME_LIMIT)
    needed = longest + settings.TASK_RETRY_BACKOFF_MAX
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
    if visibility is not None and visibility <= needed:
        errors.append(
            checks.Error(
                f"CELERY_VISIBILITY_TIMEOUT ({visibility} s) must exceed the longest task time limit plus "
                f"TASK_RETRY_BACKOFF_MAX ({needed} s), or the broker hands running tasks to a second worker.",
                id="common.E101",
            )
        )
    stale_after = settings.UPLOAD_STALE_AFTER
    upload_needed = settings.UPLOAD_TASK_TIME_LIMIT + settings.TASK_RETRY_BACKOFF_MAX
    if stale_after <= upload_needed:
        errors.append(
            checks.Error(
                f"UPLOAD_STALE_AFTER ({stale_after} s) must exceed UPLOAD_TASK_TIME_LIMIT plus "
                f"TASK_RETRY_BACKOFF_MAX ({upload_needed} s), or the sweep requeues uploads still being processed.",
                id="common.E102",
            )
        )
    return errors
