import smtplib

import pytest
from django.conf import settings
from django.core import mail

from submissions.models import FormSubmission, SubmissionStatus
from submissions.tasks import MAX_RETRIES, submission_process, submission_requeue_stale

from .factories import FormSubmissionFactory

pytestmark = pytest.mark.django_db


def _status(submission) -> str:
    return FormSubmission.objects.get(pk=submission.pk).status


def test_task_is_acked_late_and_retries_at_most_three_times():
    assert submission_process.acks_late is True
    assert submission_process.reject_on_worker_lost is True
    assert submission_process.max_retries == MAX_RETRIES == 3


def test_task_processes_the_submission():
    submission = FormSubmissionFactory()
    submission_process.delay(str(submission.pk))
    assert _status(submission) == SubmissionStatus.COMPLETED
    assert [m.to for m in mail.outbox] == [[settings.SALES_INBOX]]
    assert submission.data["message"] in mail.outbox[0].body


def test_task_on_a_completed_submission_sends_nothing_more():
    submission = FormSubmissionFactory()
    submission_process.delay(str(submission.pk))
    submission_process.delay(str(submission.pk))
    assert len(mail.outbox) == 1
    assert _status(submission) == SubmissionStatus.COMPLETED


def test_task_retries_a_transient_failure_then_completes(monkeypatch):
    from django.core.mail.backends.locmem import EmailBackend

    real_send = EmailBackend.send_messages
    attempts = []

    def fail_once(backend, messages):
        attempts.append(len(messages))
        if len(attempts) == 1:
            raise smtplib.SMTPConnectError(421, "Service not available")
        return real_send(backend, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", fail_once)
    submission = FormSubmissionFactory()

    submission_process.delay(str(submission.pk))

    stored = FormSubmission.objects.get(pk=submission.pk)
    assert (stored.status, stored.error) == (SubmissionStatus.COMPLETED, "")
    assert attempts == [1, 1]
    assert len(mail.outbox) == 1


def test_task_ends_failed_after_the_last_retry(failing_mail):
    submission = FormSubmissionFactory()

    submission_process.delay(str(submission.pk))

    stored = FormSubmission.objects.get(pk=submission.pk)
    assert stored.status == SubmissionStatus.FAILED
    assert failing_mail.calls == 1 + MAX_RETRIES
    assert "after 4 attempts" in stored.error
    assert "SMTPServerDisconnected" in stored.error and "Connection unexpectedly closed" in stored.error
    assert mail.outbox == []


def test_task_does_not_retry_what_a_retry_cannot_fix(failing_mail):
    failing_mail.error = ValueError("a bug")
    submission = FormSubmissionFactory()

    submission_process.delay(str(submission.pk))

    stored = FormSubmission.objects.get(pk=submission.pk)
    assert stored.status == SubmissionStatus.FAILED
    assert failing_mail.calls == 1
    assert "ValueError: a bug" in stored.error


def test_task_retries_on_connection_errors_too(failing_mail):
    failing_mail.error = ConnectionRefusedError(111, "Connection refused")
    submission = FormSubmissionFactory()
    submission_process.delay(str(submission.pk))
    assert failing_mail.calls == 1 + MAX_RETRIES
    assert _status(submission) == SubmissionStatus.FAILED


def test_a_failed_submission_can_be_run_again():
    submission = FormSubmissionFactory(status=SubmissionStatus.FAILED, error="SMTP was down")
    submission_process.delay(str(submission.pk))
    stored = FormSubmission.objects.get(pk=submission.pk)
    assert (stored.status, stored.error) == (SubmissionStatus.COMPLETED, "")
    assert len(mail.outbox) == 1


def test_task_for_a_submission_erased_meanwhile_does_nothing():
    submission = FormSubmissionFactory()
    pk = str(submission.pk)
    submission.delete()
    submission_process.delay(pk)
    assert mail.outbox == []


def test_sweep_task_requeues_stale_submissions():
    import datetime

    from django.utils import timezone

    stale = FormSubmissionFactory()
    FormSubmission.objects.filter(pk=stale.pk).update(
        updated_at=timezone.now() - datetime.timedelta(minutes=15)
    )
    fresh = FormSubmissionFactory()

    result = submission_requeue_stale.delay()

    assert result.get() == 1
    assert _status(stale) == SubmissionStatus.COMPLETED
    assert _status(fresh) == SubmissionStatus.SUBMITTED
    assert len(mail.outbox) == 1


def test_transient_errors_cover_smtp():
    from submissions.tasks import TRANSIENT_ERRORS

    assert issubclass(smtplib.SMTPRecipientsRefused, TRANSIENT_ERRORS)


def test_on_a_worker_a_transient_failure_is_requeued_with_backoff(failing_mail):
    from unittest import mock

    from celery.exceptions import Retry

    submission = FormSubmissionFactory()
    countdowns = []
    for retries in range(MAX_RETRIES):
        submission_process.push_request(
            retries=retries,
            is_eager=False,
            called_directly=False,
            id=f"task-{retries}",
            args=[str(submission.pk)],
        )
        try:
            with (
                mock.patch("celery.canvas.Signature.apply_async") as requeue,
                # Full jitter draws from [0, backoff]: its top end pins the backoff itself.
                mock.patch("celery.utils.time.random.randrange", side_effect=lambda stop: stop - 1),
                pytest.raises(Retry) as retry,
            ):
                submission_process(str(submission.pk))
        finally:
            submission_process.pop_request()
        requeue.assert_called_once()
        countdowns.append(retry.value.when)
        assert _status(submission) == SubmissionStatus.PROCESSING
    assert countdowns == [60, 120, 240]
