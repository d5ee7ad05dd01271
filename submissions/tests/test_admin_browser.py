"""An admin reads a lead in a real browser: decrypted on the page, and the reading is audited."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from common.testing.browser import admin_action, admin_login
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


def test_admin_sends_again_an_email_that_was_never_confirmed(page):
    """
    The one window of the at-most-once e-mail (docs/lead-forms.md): a submission failed "never
    confirmed sent". An admin who found nothing in the sales inbox picks the action in the list; the
    message goes out once, the row is completed, and the resend is audited.
    """
    from django.core import mail

    from submissions.models import FormSubmission, MailAttempt, SubmissionStatus
    from submissions.tests.factories import FormSubmissionFactory

    admin = UserFactory(role=Role.ADMIN)
    submission = FormSubmissionFactory(
        status=SubmissionStatus.FAILED, error="The e-mail to sales was claimed but never confirmed sent."
    )
    MailAttempt.objects.create(submission=submission, token="a-run-that-died-while-sending")
    mail.outbox = []
    admin_login(page, admin)

    page.goto("/admin/submissions/formsubmission/?status__exact=failed")
    admin_action(page, "mail_resend", submission.pk)

    expect(page.locator(".messagelist")).to_contain_text("1 failed submission(s) queued to be e-mailed again")
    assert len(mail.outbox) == 1
    assert FormSubmission.objects.get(pk=submission.pk).status == SubmissionStatus.COMPLETED
    assert MailAttempt.objects.get(submission=submission).sent_at is not None
    assert AuditLog.objects.filter(action="submission.mail_resent", entity_id=str(submission.pk)).count() == 1
