"""
The e-mail to sales is sent at most once per submission: claimed (committed) before it goes out, and a
run that finds an earlier claim never confirmed does not send again.
"""

import pytest
from django.core import mail
from django.db import OperationalError, connection

from submissions.models import FormSubmission, MailAttempt, SubmissionStatus
from submissions.tasks import submission_process

from .factories import FormSubmissionFactory

pytestmark = pytest.mark.django_db


class CommitOfCompletedFails:
    """PostgreSQL goes away after the e-mail left and before `completed` is stored: once."""

    def __init__(self):
        self.failed = 0

    def __call__(self, execute, sql, params, many, context):
        storing_completed = sql.startswith('UPDATE "submissions_formsubmission"') and "completed" in (
            params or ()
        )
        if storing_completed and not self.failed:
            self.failed += 1
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)


def test_the_database_failing_between_sending_and_completing_sends_no_second_email():
    submission = FormSubmissionFactory()
    failure = CommitOfCompletedFails()

    with connection.execute_wrapper(failure):
        submission_process.delay(str(submission.pk))  # fails once, then the task's retry runs

    assert failure.failed == 1
    assert len(mail.outbox) == 1
    stored = FormSubmission.objects.get(pk=submission.pk)
    assert stored.status == SubmissionStatus.FAILED
    assert "never confirmed" in stored.error and "Check the sales inbox" in stored.error
    attempt = MailAttempt.objects.get(submission=submission)
    assert attempt.sent_at is None


def test_a_sent_email_is_recorded_with_the_completed_submission():
    submission = FormSubmissionFactory()
    submission_process.delay(str(submission.pk))
    submission_process.delay(str(submission.pk))
    assert len(mail.outbox) == 1
    attempt = MailAttempt.objects.get(submission=submission)
    assert attempt.sent_at is not None
    assert FormSubmission.objects.get(pk=submission.pk).status == SubmissionStatus.COMPLETED


def test_a_send_that_failed_gives_its_claim_back_so_the_retry_sends(monkeypatch):
    import smtplib

    from django.core.mail.backends.locmem import EmailBackend

    real_send = EmailBackend.send_messages
    calls = []

    def fail_once(backend, messages):
        calls.append(1)
        if len(calls) == 1:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(backend, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", fail_once)
    submission = FormSubmissionFactory()
    submission_process.delay(str(submission.pk))
    assert (len(calls), len(mail.outbox)) == (2, 1)
    assert MailAttempt.objects.get(submission=submission).sent_at is not None


def test_an_unconfirmed_claim_blocks_a_later_run_too():
    submission = FormSubmissionFactory(status=SubmissionStatus.PROCESSING)
    MailAttempt.objects.create(submission=submission, token="a-run-that-died-while-sending")
    submission_process.delay(str(submission.pk))
    assert mail.outbox == []
    assert FormSubmission.objects.get(pk=submission.pk).status == SubmissionStatus.FAILED


def test_erasing_a_submission_takes_its_mail_attempts():
    submission = FormSubmissionFactory()
    submission_process.delay(str(submission.pk))
    FormSubmission.objects.filter(pk=submission.pk).delete()
    assert not MailAttempt.objects.exists()


def test_after_checking_the_inbox_an_admin_sends_an_unconfirmed_email_again(
    admin_client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from audit.models import AuditLog

    submission = FormSubmissionFactory(status=SubmissionStatus.PROCESSING)
    MailAttempt.objects.create(submission=submission, token="a-run-that-died-while-sending")
    submission_process.delay(str(submission.pk))
    assert FormSubmission.objects.get(pk=submission.pk).status == SubmissionStatus.FAILED

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:submissions_formsubmission_changelist"),
            {"action": "mail_resend", "_selected_action": [str(submission.pk)]},
        )

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert FormSubmission.objects.get(pk=submission.pk).status == SubmissionStatus.COMPLETED
    assert MailAttempt.objects.get(submission=submission).sent_at is not None
    assert AuditLog.objects.filter(action="submission.mail_resent", entity_id=str(submission.pk)).count() == 1


def test_the_sweep_takes_up_submissions_left_processing_past_the_threshold(settings):
    from datetime import timedelta

    from django.utils import timezone

    from submissions.tasks import submission_requeue_stale

    old = timezone.now() - timedelta(seconds=settings.SUBMISSION_PROCESSING_STALE_AFTER + 60)
    crashed_sending = FormSubmissionFactory(status=SubmissionStatus.PROCESSING)
    MailAttempt.objects.create(submission=crashed_sending, token="a-worker-that-died-while-sending")
    crashed_before = FormSubmissionFactory(status=SubmissionStatus.PROCESSING)  # no claim: nothing left
    running = FormSubmissionFactory(status=SubmissionStatus.PROCESSING)
    FormSubmission.objects.filter(pk__in=[crashed_sending.pk, crashed_before.pk]).update(updated_at=old)
    running_since = FormSubmission.objects.get(pk=running.pk).updated_at

    assert submission_requeue_stale.delay().get() == 2

    assert FormSubmission.objects.get(pk=crashed_sending.pk).status == SubmissionStatus.FAILED
    assert FormSubmission.objects.get(pk=crashed_before.pk).status == SubmissionStatus.COMPLETED
    assert len(mail.outbox) == 1  # crashed_before's, and only it
    fresh = FormSubmission.objects.get(pk=running.pk)
    assert (fresh.status, fresh.updated_at) == (SubmissionStatus.PROCESSING, running_since)
