"""Retention: what each policy removes, what it keeps, and that a broken-off run ends where a whole one does."""

import threading
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import Role, User
from accounts.tests.factories import UserFactory
from audit import chain
from audit.models import AuditLog
from audit.selectors import audit_chain_verify
from common.ids import uuid7
from common.locks import job_lock_acquire, job_lock_release
from compliance.retention import retention_apply
from content.models import Service
from content.tests.caching import public_cache_retired_by
from content.tests.factories import ServiceFactory
from submissions.models import FormSubmission
from submissions.tests.factories import FormSubmissionFactory
from uploads.models import FileUpload
from uploads.services import _storage, storage_name

pytestmark = pytest.mark.django_db

NOW = timezone.now()
LONG_AGO = NOW - timedelta(days=9 * 365)  # older than every period
RECENTLY = NOW - timedelta(days=10)


class Interrupted(Exception):
    pass


def _aged(obj, when):
    type(obj)._base_manager.filter(pk=obj.pk).update(created_at=when)
    obj.refresh_from_db()
    return obj


def _upload(user, when):
    upload = FileUpload.objects.create(user=user, filename="a.csv", size=3, status="completed")
    name = _storage().save(storage_name(upload), ContentFile(b"a,b"))
    FileUpload.objects.filter(pk=upload.pk).update(storage_path=name, created_at=when)
    upload.refresh_from_db()
    return upload


def _old_audit_rows(n, when=LONG_AGO, **fields):
    rows = [
        AuditLog(
            action="test.old",
            entity_type="test.thing",
            entity_id=str(i),
            created_at=when + timedelta(seconds=i),
            **fields,
        )
        for i in range(n)
    ]
    return chain.append(rows)


@pytest.fixture
def world():
    """One of each: due and not due, held and not held."""
    # The chain starts with its oldest rows, as it does in life: users made below add rows of today.
    held_id = uuid7()
    _old_audit_rows(5)
    _old_audit_rows(1, actor_id=held_id)  # about a user on legal hold: the purge stops before it
    _old_audit_rows(2)
    held = UserFactory(id=held_id, email="held@example.com", legal_hold=True)
    User.objects.filter(pk=held.pk).update(last_login=LONG_AGO)
    idle = UserFactory(email="idle@example.com")
    User.objects.filter(pk=idle.pk).update(last_login=LONG_AGO)
    active = UserFactory(email="active@example.com")
    User.objects.filter(pk=active.pk).update(last_login=RECENTLY)
    idle_admin = UserFactory(email="boss@example.com", role=Role.ADMIN)
    User.objects.filter(pk=idle_admin.pk).update(last_login=LONG_AGO)
    w = {
        "held": held,
        "idle": idle,
        "active": active,
        "idle_admin": idle_admin,
        "old_submissions": [_aged(FormSubmissionFactory(), LONG_AGO) for _ in range(5)],
        "new_submission": FormSubmissionFactory(),
        "held_submission": _aged(FormSubmissionFactory(user=held), LONG_AGO),
        "held_visitor_submission": _aged(
            FormSubmissionFactory(data={"name": "H", "email": "HELD@example.com", "message": "x"}), LONG_AGO
        ),
        "old_uploads": [_upload(active, LONG_AGO) for _ in range(3)],
        "new_upload": _upload(active, RECENTLY),
        "held_upload": _upload(held, LONG_AGO),
        "old_trash": [ServiceFactory(deleted_at=NOW - timedelta(days=100)) for _ in range(3)],
        "new_trash": ServiceFactory(deleted_at=NOW - timedelta(days=5)),
        "live": ServiceFactory(),
    }
    return w


def _state():
    return {
        "submissions": set(FormSubmission.objects.values_list("pk", flat=True)),
        "uploads": set(FileUpload.objects.values_list("pk", flat=True)),
        "services": set(Service.all_objects.values_list("pk", flat=True)),
        "anonymised": set(User.objects.filter(anonymized_at__isnull=False).values_list("pk", flat=True)),
        "audit_old": AuditLog.objects.filter(action="test.old").count(),
    }


def test_dry_run_counts_and_changes_nothing(world):
    before = _state()
    audit_rows = AuditLog.objects.count()
    run = retention_apply(dry_run=True, now=NOW)
    got = {r.name: (r.matched, r.held, r.done) for r in run.results}
    assert got == {
        "users_inactive": (2, 1, 0),  # idle + held; the idle admin is never anonymised by a timer
        "uploads": (4, 1, 0),
        "submissions": (7, 2, 0),
        "audit": (8, 3, 0),  # the held user's row and the two after it stay
        "soft_deleted": (3, 0, 0),
        "revisions": (
            0,
            0,
            0,
        ),  # none beyond the newest REVISIONS_KEEP of an item (content/tests/test_revisions.py)
        "submission_archives": (0, 0, 0),  # none yet (compliance/tests/test_archive.py)
    }
    assert _state() == before
    assert AuditLog.objects.count() == audit_rows


def test_a_run_applies_every_policy_and_keeps_what_is_held_or_not_due(
    world, django_capture_on_commit_callbacks
):
    storage = _storage()
    old_files = [u.storage_path for u in world["old_uploads"]]
    assert all(storage.exists(name) for name in old_files)
    with django_capture_on_commit_callbacks(execute=True):  # files go once the rows are gone for good
        run = retention_apply(now=NOW)
    done = {r.name: r.done for r in run.results}
    assert done == {
        "users_inactive": 1,
        "uploads": 3,
        "submissions": 5,
        "audit": 5,
        "soft_deleted": 3,
        "revisions": 0,
        "submission_archives": 0,
    }

    state = _state()
    assert state["submissions"] == {
        world["new_submission"].pk,
        world["held_submission"].pk,
        world["held_visitor_submission"].pk,
    }
    assert state["uploads"] == {world["new_upload"].pk, world["held_upload"].pk}
    assert not any(storage.exists(name) for name in old_files)
    assert storage.exists(world["held_upload"].storage_path)
    assert state["services"] == {world["new_trash"].pk, world["live"].pk}
    assert state["anonymised"] == {world["idle"].pk}
    idle = User.objects.get(pk=world["idle"].pk)
    assert idle.email.startswith("anonymized_") and idle.email.endswith("@invalid")
    assert not idle.is_active and not idle.has_usable_password()
    for name in ("held", "active", "idle_admin"):
        assert User.objects.get(pk=world[name].pk).anonymized_at is None

    # The chain lost a prefix and still verifies from the purge's anchor.
    assert state["audit_old"] == 3
    report = audit_chain_verify()
    assert report.ok, report.problem
    assert AuditLog.objects.order_by("sequence").first().sequence == 6
    purge = AuditLog.objects.get(action=chain.PURGE_ACTION)
    assert purge.changes["through_sequence"] == 5 and purge.changes["rows"] == 5

    run_row = AuditLog.objects.get(action="retention.run")
    assert run_row.changes["submissions"]["done"] == 5 and run_row.changes["users_inactive"]["held"] == 1
    assert "idle@example.com" not in str(list(AuditLog.objects.values_list("changes", flat=True)))


def test_a_second_run_finds_nothing_left(world):
    retention_apply(now=NOW)
    before = _state()
    run = retention_apply(now=NOW)
    assert all(r.done == 0 for r in run.results)
    assert _state() == before
    assert audit_chain_verify().ok


def test_a_run_broken_off_after_its_first_batch_ends_where_a_whole_run_ends(world):
    from django.db import transaction

    # The end state of an uninterrupted run, then rolled back.
    with transaction.atomic():
        retention_apply(now=NOW)
        whole = _state()
        transaction.set_rollback(True)
    assert _state() != whole

    def stop(result):
        raise Interrupted(result.name)

    with pytest.raises(Interrupted):
        retention_apply(now=NOW, batch_size=2, policies=["submissions"], on_batch=stop)
    assert len(_state()["submissions"]) == len(whole["submissions"]) + 3  # 2 of 5 went, as one batch
    for policy in ("users_inactive", "uploads", "audit", "soft_deleted"):
        with pytest.raises(Interrupted):
            retention_apply(now=NOW, batch_size=2, policies=[policy], on_batch=stop)
    assert audit_chain_verify().ok  # the audit purge's first batch left its anchor

    retention_apply(now=NOW, batch_size=2)
    assert _state() == whole
    assert audit_chain_verify().ok


def test_a_run_while_another_holds_the_lock_is_a_no_op(world):
    holder = job_lock_acquire("apply_retention", ttl=timedelta(minutes=5))
    before = _state()
    try:
        run = retention_apply(now=NOW)
    finally:
        job_lock_release("apply_retention", holder)
    assert run.locked_out and run.results == []
    assert _state() == before
    assert retention_apply(now=NOW).results  # released: the next run goes ahead


def test_an_expired_lock_does_not_block_forever(world):
    job_lock_acquire("apply_retention", ttl=timedelta(seconds=-1))  # its holder died
    assert not retention_apply(now=NOW).locked_out


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_never_overlap():
    for _ in range(3):
        _aged(FormSubmissionFactory(), LONG_AGO)
    first_started, let_first_finish = threading.Event(), threading.Event()
    outcome = {}

    def first():
        def pause(result):
            first_started.set()
            let_first_finish.wait(10)

        try:
            outcome["first"] = retention_apply(
                now=NOW, batch_size=1, policies=["submissions"], on_batch=pause
            )
        finally:
            from django.db import connections

            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_started.wait(10)
    second = retention_apply(now=NOW, policies=["submissions"])
    let_first_finish.set()
    thread.join(10)
    assert second.locked_out
    assert outcome["first"].results[0].done == 3
    assert FormSubmission.objects.count() == 0


def test_periods_come_from_settings(world, settings):
    settings.RETENTION = {**settings.RETENTION, "submissions": timedelta(days=20 * 365)}
    run = retention_apply(dry_run=True, now=NOW, policies=["submissions"])
    assert run.results[0].matched == 0


def test_unknown_policy_and_bad_batch_size_are_refused_by_the_command():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("apply_retention", "--policy", "everything")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("apply_retention", "--batch-size", "0")


def test_the_command_prints_a_table_and_the_dry_run_says_so(world, capsys):
    call_command("apply_retention", "--dry-run")
    out = capsys.readouterr().out
    assert "submissions" in out and "would be deleted" in out and "Dry run: nothing was changed." in out
    call_command("apply_retention", "--policy", "submissions")
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines() if line.startswith("submissions ")]
    assert lines and lines[0][-5:] == ["5", "archived", "(encrypted),", "then", "deleted"]


def test_purging_every_row_keeps_numbering_and_the_chain_verifiable():
    _old_audit_rows(7)
    run = retention_apply(now=NOW, batch_size=3, policies=["audit"])
    assert run.results[0].done == 7
    rows = list(AuditLog.objects.values_list("sequence", "action"))
    # Three purge anchors (7 rows in batches of 3) and the run's own row; numbers never reused.
    assert rows == [(8, "audit.purged"), (9, "audit.purged"), (10, "audit.purged"), (11, "retention.run")]
    report = audit_chain_verify()
    assert report.ok, report.problem
    assert retention_apply(now=NOW, policies=["audit"]).results[0].done == 0


@pytest.mark.parametrize("policy", ["soft_deleted", "users_inactive"])
def test_a_run_that_changed_rows_retires_the_public_cache(
    world, policy, api_client, django_capture_on_commit_callbacks
):
    # Anonymising shows nowhere public today; the bump is one per run, and an erasure of personal data
    # must not wait for a cached page to age out.
    done = []
    run = lambda: done.append(retention_apply(policies=[policy]).results[0].done)  # noqa: E731
    assert public_cache_retired_by(api_client, run, django_capture_on_commit_callbacks)
    assert done[0] > 0


def test_a_dry_run_or_a_run_with_nothing_due_keeps_the_public_cache(
    world, api_client, django_capture_on_commit_callbacks
):
    def runs():
        retention_apply(dry_run=True)
        retention_apply(policies=["users_inactive"], now=timezone.now() - timedelta(days=3650))

    assert not public_cache_retired_by(api_client, runs, django_capture_on_commit_callbacks)
