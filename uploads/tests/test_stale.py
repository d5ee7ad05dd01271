"""
Lost tasks: an outage on the task's first query retries instead of losing the upload, and the beat sweep
queues again an upload left `uploaded` or `processing` (whole-worker crash) past UPLOAD_STALE_AFTER.
"""

from datetime import timedelta
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.utils import timezone

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from ops.schedule import SCHEDULE
from uploads.models import FileAnalysis, FileUpload
from uploads.tasks import upload_process, upload_requeue_stale

from . import files

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _builtin_scanner(settings):
    settings.CLAMAV_URL = ""


@pytest.fixture
def stored(api_client, django_capture_on_commit_callbacks):
    """Uploads stored by the API whose processing task never ran (the on-commit queueing is dropped)."""
    api_client.force_authenticate(UserFactory())

    def make(name="scores.csv"):
        with django_capture_on_commit_callbacks(execute=False):
            response = api_client.post(
                "/api/v1/uploads/", {"file": SimpleUploadedFile(name, files.csv_bytes())}, format="multipart"
            )
        assert response.status_code == 201, response.json()
        return FileUpload.objects.get(pk=response.json()["id"])

    return make


class FailingQueries:
    """Raises what psycopg raises with PostgreSQL down, on the first `times` queries of the upload table."""

    def __init__(self, times=1):
        self.left = times
        self.failed = 0

    def __call__(self, execute, sql, params, many, context):
        if self.left and 'FROM "uploads_fileupload"' in sql:
            self.left -= 1
            self.failed += 1
            raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")
        return execute(sql, params, many, context)


def _age(upload, by: timedelta):
    FileUpload.objects.filter(pk=upload.pk).update(updated_at=timezone.now() - by)


def test_an_outage_on_the_first_query_is_retried_and_the_upload_still_ends_analysed(stored):
    upload = stored()
    failing = FailingQueries()

    with connection.execute_wrapper(failing):
        upload_process.delay(str(upload.pk))

    upload.refresh_from_db()
    assert (failing.failed, upload.status) == (1, "completed")
    assert FileAnalysis.objects.filter(upload=upload).count() == 1


def test_on_a_worker_an_outage_on_the_first_query_asks_for_a_retry_with_backoff(stored):
    upload = stored()
    upload_process.push_request(
        retries=0, is_eager=False, called_directly=False, id="task-0", args=[str(upload.pk)]
    )
    try:
        with (
            connection.execute_wrapper(FailingQueries()),
            mock.patch("celery.canvas.Signature.apply_async") as requeue,
            pytest.raises(Retry) as retry,
        ):
            upload_process(str(upload.pk))
    finally:
        upload_process.pop_request()
    requeue.assert_called_once()
    assert 0 <= retry.value.when <= 10  # the first backoff step, jittered
    upload.refresh_from_db()
    assert upload.status == "uploaded"


def test_the_sweep_requeues_uploads_stuck_past_the_threshold_and_leaves_younger_ones(stored, settings):
    threshold = timedelta(seconds=settings.UPLOAD_STALE_AFTER)
    crashed = stored("crashed.csv")  # its worker died mid-analysis: the broker still holds the message
    FileUpload.objects.filter(pk=crashed.pk).update(status="processing")
    _age(crashed, threshold + timedelta(minutes=1))
    lost = stored("lost.csv")  # its task died on the database on every retry
    _age(lost, threshold + timedelta(minutes=1))
    running = stored("running.csv")  # a live worker has it
    FileUpload.objects.filter(pk=running.pk).update(status="processing")
    _age(running, threshold - timedelta(minutes=1))
    running_since = FileUpload.objects.get(pk=running.pk).updated_at

    assert upload_requeue_stale.delay().get() == 2

    for upload in (crashed, lost):
        upload.refresh_from_db()
        assert upload.status == "completed", upload.filename
        assert FileAnalysis.objects.filter(upload=upload).count() == 1
        assert AuditLog.objects.filter(action="upload.completed", entity_id=str(upload.pk)).count() == 1
    running.refresh_from_db()
    assert (running.status, running.updated_at) == ("processing", running_since)
    assert not FileAnalysis.objects.filter(upload=running).exists()
    assert upload_requeue_stale.delay().get() == 0  # nothing left past the threshold


def test_the_sweep_leaves_finished_uploads_alone(stored, settings):
    upload = stored()
    FileUpload.objects.filter(pk=upload.pk).update(status="failed", error="could not be scanned")
    _age(upload, timedelta(days=1))
    assert upload_requeue_stale.delay().get() == 0
    upload.refresh_from_db()
    assert upload.status == "failed"


def test_the_sweep_stops_at_a_broker_outage(stored, settings):
    first, second = stored("a.csv"), stored("b.csv")
    for upload in (first, second):
        _age(upload, timedelta(seconds=settings.UPLOAD_STALE_AFTER + 60))
    with mock.patch(
        "uploads.tasks.upload_process.delay", side_effect=ConnectionError("broker down")
    ) as delay:
        assert upload_requeue_stale.delay().get() == 0
    delay.assert_called_once()
    assert set(FileUpload.objects.values_list("status", flat=True)) == {"uploaded"}


def test_beat_runs_the_sweep():
    assert "uploads.tasks.upload_requeue_stale" in {job.task for job in SCHEDULE}
