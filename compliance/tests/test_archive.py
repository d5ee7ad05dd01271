"""
Archive before purge (compliance.archive): retention writes old submissions, encrypted, to the backup
storage before it deletes them; an archive is read back less the people erased since, kept for the legal
period and then deleted; a GDPR erasure writes no archive; a refused write deletes nothing.
"""

from datetime import timedelta

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from compliance import archive
from compliance.archive import ArchiveError, archive_read, archives_list, submissions_archive
from compliance.gdpr import user_erase, visitor_data_erase
from compliance.retention import retention_apply
from content.tests.factories import ServiceFactory
from submissions.models import FormSubmission
from submissions.tests.factories import FormSubmissionFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
LONG_AGO = NOW - timedelta(days=3 * 365)


def _old(**fields):
    submission = FormSubmissionFactory(**fields)
    FormSubmission.objects.filter(pk=submission.pk).update(created_at=LONG_AGO)
    return submission


def _raw(name: str) -> bytes:
    with storages["backups"].open(name, "rb") as handle:
        return handle.read()


def test_retention_archives_old_submissions_encrypted_before_deleting_them():
    service = ServiceFactory(slug="data-labelling")
    first = _old(data={"name": "Asha Rao", "email": "asha@example.com", "message": "Quote please"})
    first.services.add(service)
    _old(data={"name": "Ravi", "email": "ravi@example.com", "message": "Hello"})
    recent = FormSubmissionFactory()

    run = retention_apply(policies=["submissions"], batch_size=1)

    result = run.results[0]
    assert (result.matched, result.done, len(result.archives)) == (2, 2, 2)
    assert list(FormSubmission.objects.values_list("pk", flat=True)) == [recent.pk]
    rows = [row for name in result.archives for row in archive_read(name)]
    assert {row["data"]["email"] for row in rows} == {"asha@example.com", "ravi@example.com"}
    asha = next(row for row in rows if row["data"]["name"] == "Asha Rao")
    assert asha["services"] == ["data-labelling"] and asha["form_type"] == "contact"
    assert asha["created_at"].startswith(LONG_AGO.date().isoformat())
    for name in result.archives:
        assert name.startswith("archive/submissions/")
        assert b"asha@example.com" not in _raw(name) and b"Asha" not in _raw(name)
    audit = AuditLog.objects.get(action="retention.run")
    assert audit.changes["submissions"]["archives"] == result.archives


def test_a_storage_that_refuses_the_archive_leaves_every_row(monkeypatch):
    _old()
    _old()

    def refuse(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(storages["backups"], "save", refuse)
    with pytest.raises(OSError):
        retention_apply(policies=["submissions"])
    assert FormSubmission.objects.count() == 2


def test_an_archive_is_read_without_the_people_erased_since_and_an_erasure_archives_nothing():
    member = UserFactory(email="member@example.com")
    _old(user=member, data={"name": "Member", "email": "member@example.com", "message": "Hi"})
    _old(data={"name": "Visitor", "email": "visitor@example.com", "message": "Hi"})
    _old(data={"name": "Stays", "email": "stays@example.com", "message": "Hi"})
    (name,) = retention_apply(policies=["submissions"]).results[0].archives
    assert len(archive_read(name)) == 3

    FormSubmissionFactory(data={"name": "Visitor", "email": "visitor@example.com", "message": "Again"})
    admin = UserFactory(role="admin")
    visitor_data_erase(email="visitor@example.com", actor=admin)
    user_erase(user=member, actor=admin, reason="admin")

    assert [row["data"]["name"] for row in archive_read(name)] == ["Stays"]
    assert [a.name for a in archives_list()] == [name]  # the erasures archived nothing


def test_archives_past_the_legal_period_are_deleted_by_retention(settings):
    old = submissions_archive([FormSubmissionFactory()], now=NOW - timedelta(days=8 * 365))
    young = submissions_archive([FormSubmissionFactory()], now=NOW - timedelta(days=365))
    result = retention_apply(policies=["submission_archives"]).results[0]
    assert (result.matched, result.done) == (1, 1)
    assert [a.name for a in archives_list()] == [young]
    assert not storages["backups"].exists(old)


def test_an_altered_archive_or_an_unknown_key_is_a_clear_error(settings):
    name = submissions_archive([FormSubmissionFactory()])
    raw = bytearray(_raw(name))
    raw[-5] ^= 1
    storages["backups"].delete(name)
    storages["backups"].save(name, __import__("io").BytesIO(bytes(raw)))
    with pytest.raises(ArchiveError, match="does not decrypt"):
        archive_read(name)

    other = submissions_archive([FormSubmissionFactory()])
    settings.BACKUP_ENCRYPTION_KEY = "a-new-key"
    settings.FIELD_ENCRYPTION_KEY = "another-field-key"
    with pytest.raises(ArchiveError, match="BACKUP_ENCRYPTION_OLD_KEYS"):
        archive_read(other)
    with pytest.raises(ArchiveError, match="not a submission archive name"):
        archive_read("../../etc/passwd")


def test_the_command_lists_and_prints_an_archive(capsys):
    _old(data={"name": "Asha", "email": "asha@example.com", "message": "Hi"})
    call_command("apply_retention", "--policy", "submissions")
    out = capsys.readouterr().out
    assert "submissions: archived in 1 encrypted files before deletion" in out
    call_command("submission_archive", "--list")
    listed = capsys.readouterr().out
    (name,) = [line.split()[0] for line in listed.splitlines()]
    call_command("submission_archive", name)
    assert '"email": "asha@example.com"' in capsys.readouterr().out
    with pytest.raises(CommandError, match="was not found"):
        call_command("submission_archive", archive.PREFIX + "/missing.jsonl.enc")


def test_an_erasure_after_a_blind_index_key_rotation_still_hides_the_archived_rows(settings):
    _old(data={"name": "Visitor", "email": "visitor@example.com", "message": "Hi"})
    (name,) = retention_apply(policies=["submissions"]).results[0].archives
    settings.BLIND_INDEX_KEY = "a-rotated-blind-index-key"
    visitor_data_erase(email="visitor@example.com", actor=UserFactory(role="admin"))
    assert archive_read(name) == []


def test_a_file_with_a_damaged_header_is_skipped_and_retention_goes_on(caplog):
    good = submissions_archive([FormSubmissionFactory()], now=NOW - timedelta(days=8 * 365))
    storages["backups"].save(f"{archive.PREFIX}/2019/01/broken.jsonl.enc", __import__("io").BytesIO(b"junk"))
    run = retention_apply(policies=["submission_archives", "audit"])
    assert [r.done for r in run.results] == [1, 0]
    assert not storages["backups"].exists(good)
    assert "broken.jsonl.enc has no readable header" in caplog.text
