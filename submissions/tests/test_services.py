import datetime
import smtplib
import threading
from unittest import mock

import kombu.exceptions
import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from common.crypto import email_blind_index
from submissions import selectors, services
from submissions.models import FormSubmission, SubmissionStatus
from submissions.services import (
    submission_create,
    submission_fail,
    submission_process,
    submission_requeue_stale,
)

from .factories import FormSubmissionFactory

pytestmark = pytest.mark.django_db

CONTACT = {"name": "Priya Raman", "email": "Priya.Raman@Example.org", "message": "Call me on 99001 22334"}


def _raw_data(pk) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT data FROM submissions_formsubmission WHERE id = %s",
            [pk.hex if connection.vendor == "sqlite" else pk],
        )
        return bytes(cursor.fetchone()[0])


def test_create_stores_encrypted_data_blind_index_services_and_audit(published_services):
    user = UserFactory()
    data = {**CONTACT, "services": ["data-annotation", "data-collection"]}

    submission, created = submission_create(
        form_type="demo_request", data=data, services=published_services, user=user, idempotency_key="k-1"
    )

    assert created is True
    stored = FormSubmission.objects.get(pk=submission.pk)
    assert stored.data == data
    assert stored.status == SubmissionStatus.SUBMITTED
    assert stored.user == user
    assert stored.idempotency_key == "k-1"
    assert stored.email_hash == email_blind_index("priya.raman@example.org")
    assert {s.slug for s in stored.services.all()} == {"data-annotation", "data-collection"}
    raw = _raw_data(submission.pk)
    for plaintext in (b"Priya", b"99001", b"example.org", b"data-annotation"):
        assert plaintext not in raw
    audit = AuditLog.objects.get(action="submission.created", entity_id=str(submission.pk))
    assert audit.changes == {"form_type": "demo_request"}
    assert audit.actor_id == user.pk


def test_create_queues_processing_only_after_commit(django_capture_on_commit_callbacks):
    with mock.patch.object(services, "submission_enqueue") as enqueue:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            submission, _ = submission_create(form_type="contact", data=CONTACT)
        assert len(callbacks) == 1
        enqueue.assert_not_called()
        callbacks[0]()
    enqueue.assert_called_once_with(submission.pk)


def test_create_with_a_used_idempotency_key_returns_the_first(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first, created = submission_create(form_type="contact", data=CONTACT, idempotency_key="same")
    assert created and len(callbacks) == 1

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again, created = submission_create(
            form_type="contact", data={**CONTACT, "message": "different"}, idempotency_key="same"
        )
    assert (again.pk, created) == (first.pk, False)
    assert callbacks == []  # nothing queued twice
    assert FormSubmission.objects.count() == 1
    assert FormSubmission.objects.get().data == CONTACT
    assert AuditLog.objects.filter(action="submission.created").count() == 1
    # The same key on another form is another submission.
    other, created = submission_create(form_type="demo_request", data=CONTACT, idempotency_key="same")
    assert created and other.pk != first.pk


def test_create_with_a_used_key_and_another_fingerprint_is_refused():
    first, _ = submission_create(
        form_type="contact",
        data=CONTACT,
        idempotency_key="k",
        idempotency_scope="a",
        idempotency_fingerprint="f1",
    )
    with pytest.raises(services.IdempotencyKeyReused):
        submission_create(
            form_type="contact",
            data=CONTACT,
            idempotency_key="k",
            idempotency_scope="a",
            idempotency_fingerprint="f2",
        )
    # Another scope with the same key is another client: a submission of its own.
    other, created = submission_create(
        form_type="contact",
        data=CONTACT,
        idempotency_key="k",
        idempotency_scope="b",
        idempotency_fingerprint="f2",
    )
    assert created and other.pk != first.pk
    assert FormSubmission.objects.count() == 2
    assert AuditLog.objects.filter(action="submission.created").count() == 2


def test_create_that_loses_the_race_to_another_body_is_refused():
    FormSubmissionFactory(idempotency_key="raced", idempotency_scope="a", idempotency_fingerprint="theirs")
    real = selectors.submission_get_by_idempotency_key
    lookups = []

    def first_check_misses(**kwargs):
        lookups.append(kwargs)
        return None if len(lookups) == 1 else real(**kwargs)

    with (
        mock.patch.object(selectors, "submission_get_by_idempotency_key", side_effect=first_check_misses),
        pytest.raises(services.IdempotencyKeyReused),
    ):
        submission_create(
            form_type="contact",
            data=CONTACT,
            idempotency_key="raced",
            idempotency_scope="a",
            idempotency_fingerprint="mine",
        )
    assert len(lookups) == 2
    assert FormSubmission.objects.count() == 1
    assert not AuditLog.objects.filter(action="submission.created").exists()


def test_create_that_loses_the_race_returns_the_winner():
    """The check finds nothing, then the INSERT meets the row another request committed meanwhile."""
    winner = FormSubmissionFactory(idempotency_key="raced")
    lookups = []
    real = selectors.submission_get_by_idempotency_key

    def first_check_misses(**kwargs):
        lookups.append(kwargs)
        return None if len(lookups) == 1 else real(**kwargs)

    with mock.patch.object(selectors, "submission_get_by_idempotency_key", side_effect=first_check_misses):
        submission, created = submission_create(form_type="contact", data=CONTACT, idempotency_key="raced")

    assert (submission.pk, created) == (winner.pk, False)
    assert len(lookups) == 2
    assert FormSubmission.objects.count() == 1
    # The savepoint kept the outer transaction usable, and nothing of the loser was written.
    assert not AuditLog.objects.filter(action="submission.created").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_with_one_key_store_one_row():
    barrier = threading.Barrier(2, timeout=10)
    real = selectors.submission_get_by_idempotency_key
    results, errors = [], []
    local = threading.local()

    lookups = []

    def check_then_wait(**kwargs):
        lookups.append(threading.get_ident())
        found = real(**kwargs)
        if not getattr(local, "checked", False):
            local.checked = True
            barrier.wait()  # both requests have checked before either inserts
        return found

    def submit(n):
        try:
            submission, created = submission_create(
                form_type="contact", data={**CONTACT, "message": f"copy {n}"}, idempotency_key="together"
            )
            results.append((submission.pk, created))
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    with (
        mock.patch.object(selectors, "submission_get_by_idempotency_key", side_effect=check_then_wait),
        mock.patch.object(services, "submission_enqueue"),
    ):
        threads = [threading.Thread(target=submit, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert errors == []
    assert len(results) == 2
    assert len({pk for pk, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, True]
    assert FormSubmission.objects.filter(idempotency_key="together").count() == 1
    # Two checks that found nothing, and one look-up by the request whose INSERT lost.
    assert len(lookups) == 3


def test_invalid_input_writes_nothing():
    with pytest.raises(ValidationError) as error:
        submission_create(form_type="newsletter", data=CONTACT)
    assert "form_type" in error.value.message_dict
    assert FormSubmission.objects.count() == 0
    assert not AuditLog.objects.filter(action="submission.created").exists()


def test_a_failing_audit_write_leaves_no_submission(django_capture_on_commit_callbacks):
    with (
        mock.patch.object(services, "audit_record", side_effect=RuntimeError("audit down")),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        submission_create(form_type="contact", data=CONTACT)
    assert FormSubmission.objects.count() == 0
    assert callbacks == []


@pytest.mark.parametrize(
    "error",
    [
        kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_broker_down_leaves_the_row_submitted(error, django_capture_on_commit_callbacks, caplog):
    from submissions.tasks import submission_process as task

    with (
        mock.patch.object(task, "apply_async", side_effect=error),
        django_capture_on_commit_callbacks(execute=True),
    ):
        submission, created = submission_create(form_type="contact", data=CONTACT)

    assert created
    assert FormSubmission.objects.get(pk=submission.pk).status == SubmissionStatus.SUBMITTED
    assert mail.outbox == []
    assert any("not queued" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


def test_process_mails_sales_and_completes():
    submission = FormSubmissionFactory(
        form_type="quote_request",
        data={
            "name": "Arjun",
            "email": "arjun@example.com",
            "company": "Acme Robotics",
            "services": ["data-annotation"],
            "budget_range": "25k-100k",
            "timeline": "1-3 months",
            "data_volume": "40,000 images",
            "message": "Lidar too.",
        },
    )

    result = submission_process(submission=submission)

    assert result.status == SubmissionStatus.COMPLETED
    assert FormSubmission.objects.get(pk=submission.pk).status == SubmissionStatus.COMPLETED
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [settings.SALES_INBOX]
    assert message.reply_to == ["arjun@example.com"]
    assert "quote request" in message.subject.lower()
    assert "Arjun" not in message.subject and "arjun@" not in message.subject
    for text in (
        "Acme Robotics",
        "data-annotation",
        "25k-100k",
        "1-3 months",
        "40,000 images",
        "Lidar too.",
        str(submission.pk),
    ):
        assert text in message.body


def test_process_again_on_a_completed_row_does_nothing():
    submission = FormSubmissionFactory()
    submission_process(submission=submission)
    submission_process(submission=submission)
    assert len(mail.outbox) == 1
    assert FormSubmission.objects.get(pk=submission.pk).status == SubmissionStatus.COMPLETED


def test_process_failure_keeps_the_row_processing_and_notes_the_error(failing_mail):
    submission = FormSubmissionFactory()
    with pytest.raises(smtplib.SMTPServerDisconnected):
        submission_process(submission=submission)
    stored = FormSubmission.objects.get(pk=submission.pk)
    assert stored.status == SubmissionStatus.PROCESSING
    assert "SMTPServerDisconnected" in stored.error


def test_fail_ends_the_row_but_never_a_completed_one():
    submission = FormSubmissionFactory(status=SubmissionStatus.PROCESSING)
    submission_fail(submission=submission, error="Could not e-mail the sales inbox.")
    stored = FormSubmission.objects.get(pk=submission.pk)
    assert (stored.status, stored.error) == (SubmissionStatus.FAILED, "Could not e-mail the sales inbox.")

    done = FormSubmissionFactory(status=SubmissionStatus.COMPLETED)
    submission_fail(submission=done, error="late")
    assert FormSubmission.objects.get(pk=done.pk).status == SubmissionStatus.COMPLETED


def _age(submission, minutes):
    FormSubmission.objects.filter(pk=submission.pk).update(
        updated_at=timezone.now() - datetime.timedelta(minutes=minutes)
    )


def test_requeue_stale_queues_only_old_submitted_rows():
    stale = FormSubmissionFactory()
    _age(stale, 11)
    fresh = FormSubmissionFactory()
    done = FormSubmissionFactory(status=SubmissionStatus.COMPLETED)
    _age(done, 60)
    failed = FormSubmissionFactory(status=SubmissionStatus.FAILED)
    _age(failed, 60)

    with mock.patch.object(services, "submission_enqueue", return_value=True) as enqueue:
        assert submission_requeue_stale() == 1
    enqueue.assert_called_once_with(stale.pk)

    # Touched: the next sweep leaves it to the copy already in the queue.
    with mock.patch.object(services, "submission_enqueue", return_value=True) as enqueue:
        assert submission_requeue_stale() == 0
    enqueue.assert_not_called()
    assert fresh.pk  # created just now: not stale


def test_requeue_stale_runs_the_processing_when_the_broker_is_back():
    stale = FormSubmissionFactory()
    _age(stale, 30)
    assert submission_requeue_stale() == 1  # eager in tests: the task runs here
    assert FormSubmission.objects.get(pk=stale.pk).status == SubmissionStatus.COMPLETED
    assert [m.to for m in mail.outbox] == [[settings.SALES_INBOX]]


def test_requeue_stale_with_the_broker_still_down_keeps_rows_for_the_next_sweep(caplog):
    from submissions.tasks import submission_process as task

    first, second = FormSubmissionFactory(), FormSubmissionFactory()
    _age(first, 30)
    _age(second, 20)
    with mock.patch.object(
        task, "apply_async", side_effect=kombu.exceptions.OperationalError("down")
    ) as send:
        assert submission_requeue_stale() == 0
    assert send.call_count == 1  # stops at the first refusal
    assert set(FormSubmission.objects.values_list("status", flat=True)) == {SubmissionStatus.SUBMITTED}
    with mock.patch.object(services, "submission_enqueue", return_value=True) as enqueue:
        assert submission_requeue_stale() == 2
    assert [c.args[0] for c in enqueue.call_args_list] == [first.pk, second.pk]


def test_a_form_the_broker_refused_is_queued_by_the_next_sweep_not_after_ten_minutes(
    django_capture_on_commit_callbacks,
):
    from submissions.tasks import submission_process as task

    down = kombu.exceptions.OperationalError("down")
    with (
        mock.patch.object(task, "apply_async", side_effect=down),
        django_capture_on_commit_callbacks(execute=True),
    ):
        refused, _ = submission_create(form_type="contact", data={"email": "a@example.com"})
    assert FormSubmission.objects.get(pk=refused.pk).enqueue_failed
    fresh = FormSubmissionFactory()  # queued fine: left to its task

    # The broker is back; the sweep runs every 30 s (ops.schedule).
    with mock.patch.object(services, "submission_enqueue", return_value=True) as enqueue:
        assert submission_requeue_stale() == 1
    enqueue.assert_called_once_with(refused.pk)
    assert not FormSubmission.objects.get(pk=refused.pk).enqueue_failed
    assert fresh.pk
    with mock.patch.object(services, "submission_enqueue", return_value=True) as enqueue:
        assert submission_requeue_stale() == 0  # its copy is in the queue now
