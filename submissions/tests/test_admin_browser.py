"""An admin reads a lead in a real browser: decrypted on the page, and the reading is audited."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from common.testing.browser import admin_login
from submissions.services import submission_create

pytestmark = pytest.mark.browser


def test_admin_opening_a_submission_sees_decrypted_data_and_one_pii_viewed_row(page):
    admin = UserFactory(role=Role.ADMIN)
    submission, _ = submission_create(
        form_type="contact",
        data={
            "name": "Asha Rao",
            "email": "asha.rao@example.com",
            "message": "Please call me about annotation",
        },
    )
    admin_login(page, admin)
    viewed = AuditLog.objects.filter(action="pii.viewed", entity_id=str(submission.pk))
    before = AuditLog.objects.filter(action="pii.viewed").count()
    assert viewed.count() == 0

    response = page.goto(f"/admin/submissions/formsubmission/{submission.pk}/change/")

    assert response.status == 200
    block = page.locator(".form-row").filter(has_text="Submitted data")
    expect(block).to_contain_text("Please call me about annotation")
    expect(block).to_contain_text("asha.rao@example.com")
    expect(block).to_contain_text("Asha Rao")
    # Read-only: no input carries the decrypted text back to a form.
    expect(page.locator("textarea, input[type=text]")).to_have_count(0)
    assert AuditLog.objects.filter(action="pii.viewed").count() == before + 1
    row = viewed.get()
    assert row.actor_id == admin.pk
    assert "Please call me" not in str(row.changes)  # the log says who read it, never what it said
