"""
Backups under faults (issue #14): an erasure still open while a backup is taken is not undone by a
restore of that backup, and a restore keeps the backups' verification verdicts.
"""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.db import connections, transaction

from accounts.models import User
from compliance.gdpr import user_erase
from compliance.models import ErasureRecord
from ops import backup_engines, backup_verdicts, backup_verification, backups, erasure_boundary, health
from ops.models import BackupRecord, BackupTier, VerifyStatus
from submissions.models import FormSubmission
from submissions.tests.factories import FormSubmissionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, stderr=out, **options)
    return out.getvalue()


@pytest.mark.postgres
def test_an_erasure_committed_after_the_dumps_snapshot_is_replayed_by_the_restore(monkeypatch):
    """
    Two real connections: this thread's erasure transaction is open (its record stamped) while the
    backup takes its snapshot, and commits while pg_dump streams. The dump holds the user; the
    restore must erase them again.
    """
    leaver = User.objects.create_user(email="leaver@example.com", password="a-long-passphrase-2")
    form = FormSubmissionFactory(user=leaver)
    stamped, snapshot_taken = threading.Event(), threading.Event()
    errors = []

    def erase():
        try:
            with transaction.atomic():
                user_erase(user=User.objects.get(pk=leaver.pk), actor=None, reason="self_service")
                stamped.set()
                # Held open, as the "sleep 6 s before commit", until the dump's snapshot exists.
                assert snapshot_taken.wait(timeout=60)
        except BaseException as error:  # noqa: BLE001 -- reported by the test's thread
            errors.append(error)
        finally:
            stamped.set()
            connections.close_all()

    counting = backup_engines.pg_table_stats

    def count_then_release(cursor, *args, **kwargs):
        # Called inside the snapshot's transaction while pg_dump streams: the snapshot is taken.
        snapshot_taken.set()
        return counting(cursor, *args, **kwargs)

    monkeypatch.setattr(backup_engines, "pg_table_stats", count_then_release)
    # Without the margin for a clock stepped back, the boundary is the open transaction's start alone.
    monkeypatch.setattr(erasure_boundary, "CLOCK_MARGIN", timedelta(0))
    eraser = threading.Thread(target=erase)
    eraser.start()
    try:
        assert stamped.wait(timeout=60)
        backup = backups.backup_create(tier=BackupTier.MANUAL)
    finally:
        snapshot_taken.set()
        eraser.join(timeout=60)
    monkeypatch.undo()
    assert not errors and not eraser.is_alive()

    record = ErasureRecord.objects.get(user_id=leaver.pk)
    # The race itself: the dump holds the user, and their erasure was stamped before the backup began.
    assert backup.manifest["tables"]["compliance_erasurerecord"]["rows"] == 0
    assert backup.manifest["tables"]["accounts_user"]["rows"] == 1
    assert record.erased_at < backup.created_at
    assert erasure_boundary.replay_since(backup.manifest) <= record.erased_at

    out = _run("restore_db", backup.name, "--noinput")
    assert "Erasures replayed: 1 (1 users erased again)." in out
    assert not User.objects.filter(pk=leaver.pk).exists()
    assert not FormSubmission.objects.filter(pk=form.pk).exists()
    assert ErasureRecord.objects.filter(pk=record.pk).exists()


def test_an_erasure_is_stamped_by_the_database_as_its_record_is_inserted():
    leaver = User.objects.create_user(email="leaver@example.com", password="a-long-passphrase-2")
    record = user_erase(user=leaver, actor=None, reason="self_service")
    # The value the database wrote, returned by the INSERT: what a backup's boundary is compared with.
    assert record.erased_at == ErasureRecord.objects.get(pk=record.pk).erased_at
    backup = backups.backup_create(tier=BackupTier.MANUAL)
    assert erasure_boundary.replay_since(backup.manifest) < backup.created_at


def test_a_restore_keeps_the_verification_verdicts_of_the_backups_in_storage():
    User.objects.create_user(email="client@example.com", password="a-long-passphrase-1")
    backup = backups.backup_create(tier=BackupTier.DAILY)
    assert backup_verification.backup_verify(backup.name).ok
    # A second backup, verified after the first: its record is not in the first one's dump either.
    later = backups.backup_create(tier=BackupTier.HOURLY)
    assert backup_verification.backup_verify(later.name).ok

    _run("restore_db", backup.name, "--noinput")

    for name in (backup.name, later.name):
        record = BackupRecord.objects.get(name=name)
        assert record.verify_status == VerifyStatus.PASSED, name
        assert record.verified_at is not None and record.verify_details["problems"] == []
    safety = BackupRecord.objects.get(name__contains="pre-restore")
    assert safety.verify_status == VerifyStatus.UNVERIFIED
    listing = _run("backup_db", "--list")
    assert f"{backup.name} " in listing and "passed" in listing.split(backup.name)[1].splitlines()[0]
    assert health.check_backup(1.0).status == health.OK


def test_a_stored_verdict_newer_than_the_record_wins_and_pruning_deletes_it(settings):
    backup = backups.backup_create(tier=BackupTier.HOURLY)
    assert backup_verification.backup_verify(backup.name).ok
    # The record as a restore of an older database brings it back: not verified yet.
    BackupRecord.objects.filter(name=backup.name).update(
        verify_status=VerifyStatus.UNVERIFIED, verified_at=None
    )
    assert backups.backup_records_sync() == []
    assert BackupRecord.objects.get(name=backup.name).verify_status == VerifyStatus.PASSED

    settings.BACKUP_KEEP = {"hourly": timedelta(0), "daily": timedelta(days=30)}
    newer = backups.backup_create(tier=BackupTier.HOURLY)
    assert backup_verification.backup_verify(newer.name).ok
    assert backups.backups_prune().deleted == [backup.name]
    assert not storages["backups"].exists(backup_verdicts.verdict_name(backup.name))
