import csv
import io

import pytest
from django.urls import reverse

from audit.models import AuditLog
from common.crypto import email_blind_index
from submissions.models import FormSubmission

pytestmark = pytest.mark.django_db


def _submission(message="Please call me about annotation", **data):
    data = {"name": "Lakshmi", "email": "lakshmi@example.com", "message": message, **data}
    return FormSubmission.objects.create(
        form_type="contact", data=data, email_hash=email_blind_index(data["email"])
    )


def test_opening_a_submission_shows_decrypted_data_and_audits_each_time(admin_client):
    submission = _submission()
    url = reverse("admin:submissions_formsubmission_change", args=[submission.pk])
    for expected in (1, 2):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert "Please call me about annotation" in response.content.decode()
        rows = AuditLog.objects.filter(action="pii.viewed", entity_id=str(submission.pk))
        assert rows.count() == expected
    assert rows.first().actor_id == admin_client.admin.pk
    assert "Lakshmi" not in str(rows.first().changes)


def test_the_list_shows_no_personal_data(admin_client):
    _submission()
    text = admin_client.get(reverse("admin:submissions_formsubmission_changelist")).content.decode()
    assert "Lakshmi" not in text and "lakshmi@example.com" not in text
    assert not AuditLog.objects.filter(action="pii.viewed").exists()


def test_submissions_are_read_only(admin_client):
    submission = _submission()
    url = reverse("admin:submissions_formsubmission_change", args=[submission.pk])
    admin_client.post(url, {"status": "failed"})
    submission.refresh_from_db()
    assert submission.status == "submitted"
    assert admin_client.get(reverse("admin:submissions_formsubmission_add")).status_code == 403


def test_mark_completed_action_is_audited(admin_client):
    first, second = _submission(), _submission()
    admin_client.post(
        reverse("admin:submissions_formsubmission_changelist"),
        {"action": "mark_completed", "_selected_action": [str(first.pk), str(second.pk)]},
    )
    assert set(FormSubmission.objects.values_list("status", flat=True)) == {"completed"}
    assert AuditLog.objects.filter(action="submission.completed").count() == 2


def test_csv_export_is_decrypted_formula_safe_and_audited(admin_client):
    plain = _submission(message="Hello")
    hostile = _submission(message='=HYPERLINK("http://evil")')
    response = admin_client.post(
        reverse("admin:submissions_formsubmission_changelist"),
        {"action": "export_csv", "_selected_action": [str(plain.pk), str(hostile.pk)]},
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="submissions-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    messages = {row["id"]: row["message"] for row in rows}
    assert messages[str(plain.pk)] == "Hello"
    assert messages[str(hostile.pk)].startswith("'=")
    audit = AuditLog.objects.get(action="submissions.exported")
    assert audit.changes["count"] == 2 and set(audit.changes["ids"]) == {str(plain.pk), str(hostile.pk)}
    assert "Hello" not in str(audit.changes)


def test_the_admin_cannot_delete_a_submission(admin_client):
    submission = _submission()
    url = reverse("admin:submissions_formsubmission_delete", args=[submission.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    changelist = admin_client.get(reverse("admin:submissions_formsubmission_changelist")).content.decode()
    assert 'value="delete_selected"' not in changelist
    assert FormSubmission.objects.filter(pk=submission.pk).exists()
