"""
Backups include the files (ops/backup_media.py): sample-data uploads and the media library (originals in
the private storage, renditions in the public media) go in `<backup>.files` with every file in the
manifest by size and sha256; verification checks each one; a restore puts back exactly the backed-up
files, consistent with the restored rows, encrypted or not.
"""

import json
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command

from accounts.models import User
from content.models import Image
from ops import backup_media, backup_verification, backups
from ops.backup_restoration import backup_restore, restore_plan
from ops.models import BackupTier
from uploads.models import FileUpload

pytestmark = pytest.mark.django_db(transaction=True)


def _run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, stderr=out, **options)
    return out.getvalue()


def _upload(user, name, body: bytes):
    path = storages["private"].save(f"uploads/{name}", ContentFile(body))
    return FileUpload.objects.create(
        user=user, filename=name, size=len(body), status="completed", storage_path=path
    )


def _image(name: str):
    original = storages["private"].save(
        f"images/{name}.jpg", ContentFile(b"\xff\xd8 original " + name.encode())
    )
    rendition = storages["public_media"].save(
        f"images/{name}-400.webp", ContentFile(b"RIFF webp " + name.encode())
    )
    return Image.objects.create(
        original=original,
        alt_text=name,
        kind="jpeg",
        width=800,
        height=600,
        size=20,
        state="ready",
        renditions=[{"name": rendition, "width": 400, "height": 300, "format": "webp"}],
    )


def _read(alias: str, name: str) -> bytes:
    with storages[alias].open(name, "rb") as handle:
        return handle.read()


@pytest.fixture(params=["", "files-key"], ids=["plain", "encrypted"])
def files(request, settings):
    settings.BACKUP_ENCRYPTION_KEY = request.param
    user = User.objects.create_user(email="client@example.com", password="a-long-passphrase-1", name="Client")
    return {
        "user": user,
        "upload": _upload(user, "sample.csv", b"id,label\n1,cat\n2,dog\n"),
        "image": _image("farm"),
    }


def test_a_backup_lists_every_file_and_verification_checks_them(files):
    out = _run("backup_db", "--tier", "daily")
    record = backups.BackupRecord.objects.get()
    assert "files:    3 (" in out
    manifest = record.manifest
    entries = manifest["files"]["entries"]
    assert set(entries["private"]) == {files["upload"].storage_path, files["image"].original}
    assert set(entries["public_media"]) == {files["image"].renditions[0]["name"]}
    assert entries["private"][files["upload"].storage_path]["size"] == len(b"id,label\n1,cat\n2,dog\n")
    assert storages["backups"].exists(backup_media.files_name(record.name))
    if manifest["encrypted"]:
        # Encrypted like the dump: the file's bytes are not in it.
        assert b"1,cat" not in _read("backups", backup_media.files_name(record.name))

    verified = _run("verify_backup", record.name)
    assert "3 files: every size and sha256 matches." in verified
    record.refresh_from_db()
    assert record.verify_details["files"] == 3


def test_verification_names_a_file_that_differs_from_the_manifest(files):
    record = backups.backup_create(tier=BackupTier.MANUAL)
    path = files["upload"].storage_path
    manifest = backups.manifest_load(record.name)
    manifest["files"]["entries"]["private"][path]["sha256"] = "0" * 64
    storages["backups"].delete(backups.manifest_name(record.name))
    storages["backups"].save(backups.manifest_name(record.name), ContentFile(json.dumps(manifest).encode()))
    result = backup_verification.backup_verify(record.name)
    assert not result.ok
    assert result.problems == [f"file private/{path}: its size or sha256 differs from the manifest"]


def test_a_damaged_files_archive_fails_verification(files):
    record = backups.backup_create(tier=BackupTier.MANUAL)
    stored = backup_media.files_name(record.name)
    damaged = bytearray(_read("backups", stored))
    damaged[len(damaged) // 2] ^= 1
    storages["backups"].delete(stored)
    storages["backups"].save(stored, ContentFile(bytes(damaged)))
    result = backup_verification.backup_verify(record.name)
    assert not result.ok and "the backup's files archive does not match its manifest" in result.problems[0]


def test_a_restore_brings_the_files_back_consistent_with_the_rows(files):
    record = backups.backup_create(tier=BackupTier.MANUAL)
    upload, image = files["upload"], files["image"]
    rendition = image.renditions[0]["name"]
    # After the backup: a file lost, one overwritten, and a new upload with its file.
    storages["private"].delete(upload.storage_path)
    storages["public_media"].delete(rendition)
    storages["public_media"].save(rendition, ContentFile(b"something else"))
    later = _upload(files["user"], "later.csv", b"written after the backup")

    messages = []
    result = backup_restore(restore_plan(record.name), say=messages.append)

    assert _read("private", upload.storage_path) == b"id,label\n1,cat\n2,dog\n"
    assert _read("public_media", rendition) == b"RIFF webp farm"
    # The later upload's row is gone with the restore, and so is its file; the safety backup has both.
    assert not FileUpload.objects.filter(pk=later.pk).exists()
    assert not storages["private"].exists(later.storage_path)
    safety = backups.manifest_load(result.safety_backup)
    assert later.storage_path in safety["files"]["entries"]["private"]
    assert (result.files_written, result.files_removed) == (3, 1)
    assert result.rows_without_files == []
    assert "Restoring 3 files (uploads, media)..." in messages
    assert backup_media.rows_without_files() == []


def test_a_backup_without_files_restores_the_rows_and_leaves_the_files(files, settings):
    settings.BACKUP_INCLUDE_FILES = False
    record = backups.backup_create(tier=BackupTier.MANUAL)
    assert "files" not in record.manifest
    storages["private"].delete(files["upload"].storage_path)
    messages = []
    result = backup_restore(restore_plan(record.name), safety_backup=False, say=messages.append)
    assert any("holds no files" in message for message in messages)
    assert result.rows_without_files == [f"upload file {files['upload'].storage_path}"]


def test_damaged_files_stop_a_restore_before_the_database_is_touched(files):
    record = backups.backup_create(tier=BackupTier.MANUAL)
    stored = backup_media.files_name(record.name)
    damaged = bytearray(_read("backups", stored))
    damaged[-3] ^= 1
    storages["backups"].delete(stored)
    storages["backups"].save(stored, ContentFile(bytes(damaged)))
    later = _upload(files["user"], "later.csv", b"after")
    with pytest.raises(backups.BackupError, match="the backup's files archive does not match its manifest"):
        backup_restore(restore_plan(record.name), say=lambda message: None)
    # Nothing replaced, no safety backup taken: the check came first.
    assert FileUpload.objects.filter(pk=later.pk).exists()
    assert backups.BackupRecord.objects.count() == 1


def test_without_a_safety_backup_files_the_backup_lacks_are_left_in_place(files):
    record = backups.backup_create(tier=BackupTier.MANUAL)
    later = _upload(files["user"], "later.csv", b"after")
    messages = []
    result = backup_restore(restore_plan(record.name), safety_backup=False, say=messages.append)
    assert (result.files_written, result.files_removed) == (3, 0)
    assert storages["private"].exists(later.storage_path)
    assert any("left in place: no safety backup" in message for message in messages)
