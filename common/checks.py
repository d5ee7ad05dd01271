"""Startup checks: the Celery timing settings agree with one another (docs/uploads.md, "Reliability"); the editors' time zone exists."""

import zoneinfo

from django.conf import settings
from django.core import checks


def _rules() -> list[tuple[str, int, str, int, str]]:
    """(setting, its value, what it must exceed, that bound, check id)."""
    longest = max(settings.CELERY_TASK_TIME_LIMIT, settings.UPLOAD_TASK_TIME_LIMIT)
    backoff = settings.TASK_RETRY_BACKOFF_MAX
    return [
        (
            "CELERY_VISIBILITY_TIMEOUT",
            settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout"),
            "the longest task time limit plus TASK_RETRY_BACKOFF_MAX",
            longest + backoff,
            "common.E101",
        ),
        (
            "UPLOAD_STALE_AFTER",
            settings.UPLOAD_STALE_AFTER,
            "UPLOAD_TASK_TIME_LIMIT plus TASK_RETRY_BACKOFF_MAX",
            settings.UPLOAD_TASK_TIME_LIMIT + backoff,
            "common.E102",
        ),
        (
            "SUBMISSION_PROCESSING_STALE_AFTER",
            settings.SUBMISSION_PROCESSING_STALE_AFTER,
            "CELERY_TASK_TIME_LIMIT plus TASK_RETRY_BACKOFF_MAX",
            settings.CELERY_TASK_TIME_LIMIT + backoff,
            "common.E103",
        ),
    ]


@checks.register(checks.Tags.compatibility)
def celery_timing_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """
    A message the broker redelivers while its first worker still runs it is a duplicate run, so the
    visibility timeout must outlast the longest task (hard time limit) plus the longest retry countdown;
    and the sweeps must not queue again an upload or a lead form a live worker may still hold.
    """
    return [
        checks.Error(
            f"{name} ({value} s) must exceed {what} ({bound} s): a live task could otherwise be run twice.",
            id=check_id,
        )
        for name, value, what, bound, check_id in _rules()
        if value is not None and not value > bound
    ]


@checks.register(checks.Tags.compatibility)
def editor_time_zone_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A misspelt EDITOR_TIME_ZONE fails at start-up, not on an editor's first admin page."""
    try:
        zoneinfo.ZoneInfo(settings.EDITOR_TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [
            checks.Error(
                f"EDITOR_TIME_ZONE {settings.EDITOR_TIME_ZONE!r} is not a time zone name (e.g. Asia/Kolkata).",
                id="common.E104",
            )
        ]
    return []
