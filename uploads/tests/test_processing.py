"""From intake to the end of the pipeline: scan, quarantine or analyse, idempotent reruns, failures."""

from unittest import mock

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from uploads import services
from uploads.models import FileAnalysis, FileUpload
from uploads.scanning import ScannerUnavailable
from uploads.tasks import upload_process as upload_process_task

from . import files

pytestmark = pytest.mark.django_db
# `engine`, the real clamd and the built-in stand-in in turn: conftest.py.


@pytest.fixture
def owner(api_client):
    user = UserFactory()
    api_client.force_authenticate(user)
    return user


def _upload(api_client, name, data, capture):
    with capture(execute=True):  # the task is queued on commit and runs in-process (eager)
        response = api_client.post(
            "/api/v1/uploads/", {"file": SimpleUploadedFile(name, data)}, format="multipart"
        )
    assert response.status_code == 201, response.json()
    return FileUpload.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize(
    ("name", "make", "expect"),
    [
        ("scores.csv", lambda: files.csv_bytes(3), "3 rows"),
        ("scores.tsv", files.tsv_bytes, "2 rows"),
        ("records.json", files.json_bytes, "2"),
        ("events.ndjson", files.ndjson_bytes, "3"),
        ("notes.txt", files.text_bytes, "2 lines"),
        ("book.xlsx", files.xlsx_bytes, "Samples"),
        ("photo.png", lambda: files.image_bytes("PNG", (40, 30)), "40"),
        ("photo.jpg", lambda: files.image_bytes("JPEG", (40, 30)), "30"),
    ],
)
def test_clean_files_end_completed_with_an_analysis(
    api_client, owner, engine, django_capture_on_commit_callbacks, name, make, expect
):
    upload = _upload(api_client, name, make(), django_capture_on_commit_callbacks)
    upload.refresh_from_db()
    assert upload.status == "completed", upload.error
    assert upload.processed_at is not None
    analysis = FileAnalysis.objects.get(upload=upload)
    assert expect in analysis.summary
    assert analysis.details  # the JSON document in private storage, loaded by the property
    body = api_client.get(f"/api/v1/uploads/{upload.pk}/analysis/").json()
    assert body["summary"] == analysis.summary and body["details"] == analysis.details
    actions = list(AuditLog.objects.filter(entity_id=str(upload.pk)).values_list("action", flat=True))
    assert actions == [
        "upload.pending",
        "upload.uploading",
        "upload.uploaded",
        "upload.processing",
        "upload.completed",
    ]


def test_a_png_with_html_appended_completes_flagged_and_is_never_served_back(
    api_client, owner, django_capture_on_commit_callbacks, settings
):
    settings.CLAMAV_URL = ""
    html = b"<html><script>alert(document.cookie)</script></html>"
    upload = _upload(
        api_client, "photo.png", files.image_bytes("PNG") + html, django_capture_on_commit_callbacks
    )
    upload.refresh_from_db()

    assert (upload.status, upload.mime_type) == ("completed", "image/png")
    body = api_client.get(f"/api/v1/uploads/{upload.pk}/analysis/").json()
    assert body["details"]["trailing_bytes"] == len(html)
    assert f"Flagged: {len(html)} bytes follow the end of the image" in body["summary"]
    assert api_client.get(f"/api/v1/uploads/{upload.pk}/").json()["summary"] == body["summary"]
    # The stored bytes have no route back out: nothing in the API points at them.
    listed = (
        api_client.get("/api/v1/uploads/").content + api_client.get(f"/api/v1/uploads/{upload.pk}/").content
    )
    assert upload.storage_path.encode() not in listed and b"<html>" not in listed


def test_an_infected_file_is_quarantined_never_analysed(
    api_client, owner, engine, django_capture_on_commit_callbacks
):
    data = files.csv_bytes(50) + files.EICAR + b"\n"
    upload = _upload(api_client, "scores.csv", data, django_capture_on_commit_callbacks)
    upload.refresh_from_db()
    assert upload.status == "quarantined"
    assert "malware" in upload.error
    assert upload.storage_path.startswith("quarantine/")
    storage = storages["private"]
    assert storage.exists(upload.storage_path)
    assert not storage.exists(services.storage_name(upload))
    assert not FileAnalysis.objects.filter(upload=upload).exists()
    infected = AuditLog.objects.get(action="upload.infected", entity_id=str(upload.pk))
    assert infected.changes["engine"] == engine and "EICAR" in infected.changes["signature"].upper()
    # A rerun never analyses it either.
    upload_process_task.delay(str(upload.pk))
    upload.refresh_from_db()
    assert upload.status == "quarantined" and not FileAnalysis.objects.filter(upload=upload).exists()


def test_rerun_after_a_crash_ends_with_exactly_one_analysis(
    api_client, owner, settings, django_capture_on_commit_callbacks
):
    settings.CLAMAV_URL = ""
    with mock.patch("uploads.services.upload_enqueue"):
        upload = _upload(api_client, "scores.csv", files.csv_bytes(5), django_capture_on_commit_callbacks)
    # The worker died after writing the analysis but before marking the upload completed.
    FileAnalysis.objects.create(upload=upload, summary="half-written", details_path="")
    FileUpload.objects.filter(pk=upload.pk).update(status="processing")
    upload_process_task.delay(str(upload.pk))
    upload_process_task.delay(str(upload.pk))  # and a duplicate delivery on top
    upload.refresh_from_db()
    assert upload.status == "completed"
    assert FileAnalysis.objects.filter(upload=upload).count() == 1
    assert FileAnalysis.objects.get(upload=upload).summary != "half-written"
    assert AuditLog.objects.filter(action="upload.completed", entity_id=str(upload.pk)).count() == 1


def test_scanner_outage_ends_failed_with_a_reason_the_owner_can_read(
    api_client, owner, settings, django_capture_on_commit_callbacks
):
    settings.CLAMAV_URL = "tcp://127.0.0.1:1"  # nothing listens there
    upload = _upload(api_client, "scores.csv", files.csv_bytes(), django_capture_on_commit_callbacks)
    upload.refresh_from_db()
    assert upload.status == "failed"
    assert "could not be scanned" in upload.error
    assert api_client.get(f"/api/v1/uploads/{upload.pk}/").json()["error"] == upload.error


def test_scanner_outage_is_retried_by_the_worker(settings):
    """Outside eager mode the task asks Celery to retry instead of failing the upload."""
    upload = FileUpload.objects.create(
        user=UserFactory(), filename="a.csv", status="uploaded", mime_type="text/csv"
    )
    with (
        mock.patch("uploads.services.upload_process", side_effect=ScannerUnavailable("clamd down")),
        mock.patch.object(upload_process_task, "retry", side_effect=RuntimeError("retry requested")) as retry,
    ):
        task = upload_process_task
        task.push_request(retries=0, is_eager=False)
        try:
            with pytest.raises(RuntimeError, match="retry requested"):
                task.run(str(upload.pk))
        finally:
            task.pop_request()
    retry.assert_called_once()
    upload.refresh_from_db()
    assert upload.status == "uploaded"


def test_a_file_the_analyser_cannot_read_ends_failed(
    api_client, owner, settings, django_capture_on_commit_callbacks
):
    settings.CLAMAV_URL = ""
    # Larger than the sniffing sample, so it is taken for JSON and the analyser finds out.
    broken = b"[" + b'{"id": 1},' * 8000 + b'{"id": '
    upload = _upload(api_client, "records.json", broken, django_capture_on_commit_callbacks)
    upload.refresh_from_db()
    assert upload.status == "failed"
    assert upload.error and "Traceback" not in upload.error
    assert not FileAnalysis.objects.filter(upload=upload).exists()
