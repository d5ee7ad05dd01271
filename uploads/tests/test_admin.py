from unittest import mock

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from uploads.models import FileAnalysis, FileUpload

pytestmark = pytest.mark.django_db


def _upload(status, **fields):
    return FileUpload.objects.create(
        **{"user": UserFactory(), "filename": "a.csv", "size": 10, "status": status, **fields}
    )


def test_list_shows_status_and_analysis_and_filters_quarantine(admin_client):
    done = _upload("completed")
    FileAnalysis.objects.create(upload=done, summary="A CSV file with 3 rows and 2 columns.")
    _upload("quarantined", filename="bad.csv", error="The file contains malware")
    url = reverse("admin:uploads_fileupload_changelist")
    text = admin_client.get(url).content.decode()
    assert "A CSV file with 3 rows and 2 columns." in text
    quarantined = admin_client.get(url + "?quarantined=yes").content.decode()
    assert "bad.csv" in quarantined and "A CSV file with 3 rows" not in quarantined


def test_reprocess_sends_only_failed_uploads_round_again(admin_client, django_capture_on_commit_callbacks):
    failed, done = _upload("failed", error="scanner down"), _upload("completed")
    with (
        mock.patch("uploads.services.upload_enqueue") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        admin_client.post(
            reverse("admin:uploads_fileupload_changelist"),
            {"action": "reprocess", "_selected_action": [str(failed.pk), str(done.pk)]},
        )
    failed.refresh_from_db()
    done.refresh_from_db()
    assert failed.status == "uploaded" and failed.error == ""
    assert done.status == "completed"
    enqueue.assert_called_once_with(failed.pk)
    assert AuditLog.objects.filter(action="upload.uploaded", entity_id=str(failed.pk)).exists()
