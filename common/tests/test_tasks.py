"""Every Celery task retries an outage of the database or the broker, and the timing settings agree."""

import pytest
from django.conf import settings
from django.core import checks
from django.db import InterfaceError, OperationalError

from common.checks import celery_timing_check
from common.tasks import TRANSIENT_ERRORS, RetryingTask
from config.celery_app import app


def _project_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_project_task_retries_database_and_broker_errors_with_backoff():
    import kombu.exceptions

    tasks = _project_tasks()
    assert "uploads.tasks.upload_process" in tasks and "submissions.tasks.submission_process" in tasks
    for name, task in tasks.items():
        assert isinstance(task, RetryingTask), name
        assert hasattr(task, "_orig_run"), f"{name} is not wrapped by autoretry_for"
        for error in (OperationalError, InterfaceError, kombu.exceptions.OperationalError):
            assert issubclass(error, tuple(task.autoretry_for)), f"{name} does not retry {error.__name__}"
        assert (task.retry_jitter, task.acks_late, task.reject_on_worker_lost) == (True, True, True), name
        assert task.retry_backoff >= 10 and task.max_retries >= 3, name
        assert task.retry_backoff_max <= settings.TASK_RETRY_BACKOFF_MAX, name


def test_the_default_timings_agree():
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    longest = max(settings.CELERY_TASK_TIME_LIMIT, settings.UPLOAD_TASK_TIME_LIMIT)
    assert visibility > longest + settings.TASK_RETRY_BACKOFF_MAX
    assert settings.UPLOAD_STALE_AFTER > settings.UPLOAD_TASK_TIME_LIMIT + settings.TASK_RETRY_BACKOFF_MAX
    assert (
        settings.SUBMISSION_PROCESSING_STALE_AFTER
        > settings.CELERY_TASK_TIME_LIMIT + settings.TASK_RETRY_BACKOFF_MAX
    )
    assert app.conf.broker_transport_options["visibility_timeout"] == visibility
    assert celery_timing_check() == []


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [
        ("CELERY_BROKER_TRANSPORT_OPTIONS", {"visibility_timeout": 30 * 60}, "common.E101"),
        ("UPLOAD_STALE_AFTER", 15 * 60, "common.E102"),
        ("SUBMISSION_PROCESSING_STALE_AFTER", 30 * 60, "common.E103"),
    ],
)
def test_timings_that_would_run_a_live_task_twice_are_refused_at_startup(settings, setting, value, check_id):
    setattr(settings, setting, value)
    assert [(type(m), m.id) for m in celery_timing_check()] == [(checks.Error, check_id)]


def test_transient_errors_are_outages_not_bugs():
    assert issubclass(OperationalError, TRANSIENT_ERRORS)
    assert not issubclass(ValueError, TRANSIENT_ERRORS)
