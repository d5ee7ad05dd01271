"""
Backups on the real engine of the run (SQLite, or PostgreSQL with pg_dump and pg_restore): the round
trip with every table's checksum equal, a flipped byte caught wherever it is, encryption, pruning, the
restore with its refusals, safety backup and erasure replay, and S3 through moto.

The tests are transactional: pg_dump is another process and sees only committed rows.
"""

import json
import random
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from accounts.models import User
from audit.models import AuditLog
from audit.selectors import audit_chain_verify as verify_chain
from common.models import PublishStatus
from compliance.gdpr import user_erase
from content.models import Industry, Service
from ops import backup_engines, backup_verification, backups
from ops.models import BackupRecord, BackupTier, VerifyStatus

pytestmark = pytest.mark.django_db(transaction=True)


def _run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, stderr=out, **options)
    return out.getvalue()


def _table_counts() -> dict:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
    return counts


def _rewrite_manifest(name, change):
    storage = storages["backups"]
    manifest = backups.manifest_load(name)
    change(manifest)
    storage.delete(backups.manifest_name(name))
    storage.save(backups.manifest_name(name), ContentFile(json.dumps(manifest).encode()))
    BackupRecord.objects.filter(name=name).update(manifest=manifest)


def _flip(name, position):
    path = storages["backups"].path(name)
    with open(path, "r+b") as handle:
        handle.seek(position)
        byte = handle.read(1)
        handle.seek(position)
        handle.write(bytes([byte[0] ^ 0x01]))


@pytest.fixture
def content(db):
    industry = Industry.objects.create(name="Agritech", slug="agritech")
    Service.objects.create(name="Data annotation", slug="data-annotation", description="Labels")
    User.objects.create_user(email="client@example.com", password="a-long-passphrase-1", name="Client")
    return industry


def test_round_trip_every_table_count_and_checksum_equal(content):
    out = _run("backup_db", "--tier", "daily")
    record = BackupRecord.objects.get()
    assert record.tier == BackupTier.DAILY and record.engine == connection.vendor
    assert f"name:     {record.name}" in out
    manifest = backups.manifest_load(record.name)
    assert manifest == record.manifest
    assert manifest["sha256"] == record.sha256 and manifest["size"] == record.size > 0
    assert manifest["app_version"] and manifest["created_at"]
    assert "content.0001_initial" in manifest["migrations"]
    # Every table of the database, with the count it had (the BackupRecord is written after the dump).
    counts = _table_counts()
    counts["ops_backuprecord"] -= 1
    counts["audit_auditlog"] -= 1  # backup.created
    assert {table: entry["rows"] for table, entry in manifest["tables"].items()} == counts
    assert manifest["tables"]["content_service"]["rows"] == 1

    out = _run("verify_backup", record.name)
    assert "every count and checksum matches" in out
    record.refresh_from_db()
    assert record.verify_status == VerifyStatus.PASSED and record.verified_at is not None
    assert record.verify_details["tables"] == len(counts) and record.verify_details["problems"] == []
    assert AuditLog.objects.filter(action="backup.verified").count() == 1
    if connection.vendor == "postgresql":  # the scratch database is gone
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'indivillage_verify_%'")
            assert cursor.fetchone()[0] == 0


def test_a_flipped_byte_is_caught_wherever_it_is(content):
    record = backups.backup_create(tier=BackupTier.MANUAL)
    rng = random.Random(7)
    positions = [0, 1, record.size // 2, record.size - 1] + rng.sample(range(record.size), 6)
    for position in positions:
        _flip(record.name, position)
        result = backup_verification.backup_verify(record.name)
        assert not result.ok, position
        assert "does not match its manifest" in result.problems[0]
        record.refresh_from_db()
        assert record.verify_status == VerifyStatus.FAILED
        _flip(record.name, position)  # flip it back: the file verifies again
    assert backup_verification.backup_verify(record.name).ok


def test_a_table_that_differs_from_the_manifest_is_named(content):
    """Past the sha256, the restore itself is compared: a manifest that disagrees fails on the table."""
    record = backups.backup_create(tier=BackupTier.MANUAL)

    def bump(manifest):
        manifest["tables"]["content_industry"]["rows"] += 1
        manifest["tables"]["content_service"]["checksum"] = "12345"

    _rewrite_manifest(record.name, bump)
    with pytest.raises(CommandError, match="FAILED verification \\(2 problems\\)"):
        _run("verify_backup", record.name)
    record.refresh_from_db()
    problems = record.verify_details["problems"]
    assert problems == [
        "content_industry: 1 rows, the manifest says 2",
        "content_service: 1 rows as expected, but their checksum differs",
    ]


def test_a_corrupt_dump_with_a_matching_sha256_fails_the_restore(content):
    """The restore step catches damage by itself: a dump whose manifest was updated to match it."""
    record = backups.backup_create(tier=BackupTier.MANUAL)
    path = storages["backups"].path(record.name)
    with open(path, "r+b") as handle:
        handle.truncate(record.size // 2)
    digest, size = backups.filecrypt.file_sha256(path)
    _rewrite_manifest(record.name, lambda manifest: manifest.update(sha256=digest, size=size))
    result = backup_verification.backup_verify(record.name)
    assert not result.ok
    assert (
        "pg_restore" in result.problems[0]
        or "SQLite" in result.problems[0]
        or "integrity" in result.problems[0]
    )


def test_encrypted_backup_round_trip_and_wrong_key(content, settings):
    settings.BACKUP_ENCRYPTION_KEY = "backup-key-one"
    record = backups.backup_create(tier=BackupTier.MANUAL)
    assert record.encrypted and record.name.endswith(".enc")
    raw = storages["backups"].open(record.name).read()
    assert raw.startswith(b"IVBKENC1")
    assert b"Data annotation" not in raw and b"CREATE TABLE" not in raw and b"SQLite format" not in raw
    assert backup_verification.backup_verify(record.name).ok

    settings.BACKUP_ENCRYPTION_KEY = "another-key"
    with pytest.raises(CommandError, match="nor BACKUP_ENCRYPTION_OLD_KEYS is the key this backup was made"):
        _run("verify_backup", record.name)
    settings.BACKUP_ENCRYPTION_OLD_KEYS = ["some-other-key", "backup-key-one"]  # after a key rotation
    assert backup_verification.backup_verify(record.name).ok
    settings.BACKUP_ENCRYPTION_OLD_KEYS = []
    settings.BACKUP_ENCRYPTION_KEY = ""
    with pytest.raises(CommandError, match="set BACKUP_ENCRYPTION_KEY"):
        _run("verify_backup", record.name)
    record.refresh_from_db()
    assert record.verify_status == VerifyStatus.PASSED  # a missing key says nothing about the backup


def test_an_encrypted_file_cut_at_a_chunk_boundary_is_refused(content, settings, monkeypatch):
    settings.BACKUP_ENCRYPTION_KEY = "backup-key-one"
    monkeypatch.setattr(backups.filecrypt, "CHUNK", 4096)
    record = backups.backup_create(tier=BackupTier.MANUAL)
    path = storages["backups"].path(record.name)
    with open(path, "r+b") as handle:
        handle.truncate(28 + 2 * (4 + 4096 + 16))  # header and the first two whole chunks
    digest, size = backups.filecrypt.file_sha256(path)
    _rewrite_manifest(record.name, lambda manifest: manifest.update(sha256=digest, size=size))
    result = backup_verification.backup_verify(record.name)
    assert not result.ok and "does not decrypt" in result.problems[0]


@pytest.mark.postgres
def test_the_manifest_and_the_dump_are_one_moment_under_concurrent_writes(content):
    """Writers go on during pg_dump; the counts come from pg_dump's own snapshot, so they still match."""
    import threading

    from django.db import connections

    stop = threading.Event()
    written = []

    def write():
        try:
            while not stop.is_set():
                Industry.objects.create(name=f"Industry {len(written)}", slug=f"industry-{len(written)}")
                written.append(1)
        finally:
            connections.close_all()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 5:
            pass
        record = backups.backup_create(tier=BackupTier.MANUAL)
    finally:
        stop.set()
        writer.join()
    assert Industry.objects.count() > record.manifest["tables"]["content_industry"]["rows"] > 1
    assert backup_verification.backup_verify(record.name).ok


def test_prune_keeps_each_tier_its_time_manual_and_the_newest_verified(content, settings):
    settings.BACKUP_KEEP = {"hourly": timedelta(days=7), "daily": timedelta(days=30)}
    now = timezone.now()
    ages = {
        "hourly-old": (BackupTier.HOURLY, 8),
        "hourly-new": (BackupTier.HOURLY, 6),
        "daily-old": (BackupTier.DAILY, 31),
        "daily-new": (BackupTier.DAILY, 29),
        "manual-old": (BackupTier.MANUAL, 400),
        "verified-old": (BackupTier.HOURLY, 20),
    }
    names = {}
    for label, (tier, days) in ages.items():
        record = backups.backup_create(tier=tier, label=label)
        BackupRecord.objects.filter(pk=record.pk).update(created_at=now - timedelta(days=days))
        names[label] = record.name
    BackupRecord.objects.filter(name=names["verified-old"]).update(verify_status=VerifyStatus.PASSED)

    out = _run("prune_backups", "--dry-run")
    assert "Would delete 2 backups." in out
    assert BackupRecord.objects.count() == 6

    out = _run("prune_backups")
    assert "Deleted 2 backups." in out and f"never pruned: {names['verified-old']}" in out
    left = set(BackupRecord.objects.values_list("name", flat=True))
    assert left == {names[k] for k in ("hourly-new", "daily-new", "manual-old", "verified-old")}
    storage = storages["backups"]
    for gone in ("hourly-old", "daily-old"):
        assert not storage.exists(names[gone]) and not storage.exists(backups.manifest_name(names[gone]))
    assert storage.exists(names["manual-old"])
    assert set(AuditLog.objects.get(action="backup.pruned").changes["deleted"]) == {
        names["hourly-old"],
        names["daily-old"],
    }


def test_records_are_rebuilt_from_storage(content):
    first = backups.backup_create(tier=BackupTier.DAILY)
    backups.backup_create(tier=BackupTier.MANUAL)
    BackupRecord.objects.all().delete()
    out = _run("backup_db", "--list")
    assert "2 backups found in storage without a record" in out
    rebuilt = BackupRecord.objects.get(name=first.name)
    assert rebuilt.tier == BackupTier.DAILY and rebuilt.sha256 == first.sha256
    assert abs((rebuilt.created_at - first.created_at).total_seconds()) < 1
    assert backup_verification.backup_verify(first.name).ok


def test_verify_picks_latest_or_a_random_recent_unverified_one(content):
    with pytest.raises(CommandError, match="no backup yet"):
        _run("verify_backup", "--latest")
    old = backups.backup_create(tier=BackupTier.DAILY)
    BackupRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    with pytest.raises(CommandError, match="no backup from the last 7 days"):
        _run("verify_backup", "--random")
    checked = backups.backup_create(tier=BackupTier.HOURLY)
    fresh = backups.backup_create(tier=BackupTier.HOURLY)
    BackupRecord.objects.filter(pk=checked.pk).update(verify_status=VerifyStatus.PASSED)
    for _ in range(5):
        assert backups.backup_pick(pick_random=True) == fresh.name
    assert backups.backup_pick(latest=True) == fresh.name
    with pytest.raises(CommandError, match="no backup named 'nope'"):
        _run("verify_backup", "nope")


def test_restore_brings_the_data_back_after_a_safety_backup_and_replays_erasures(content):
    erased = User.objects.create_user(email="leaver@example.com", password="a-long-passphrase-2")
    backup = backups.backup_create(tier=BackupTier.MANUAL)
    before = _table_counts()
    # After the backup: content changes, and a user exercises the right to erasure.
    Service.objects.all().delete()
    Industry.objects.create(name="Later", slug="later")
    user_erase(user=erased, actor=None, reason="self_service")
    assert not User.objects.filter(pk=erased.pk).exists()

    out = _run("restore_db", backup.name, "--yes")
    assert "safety backup: indivillage-" in out and "Erasures replayed: 1 (1 users erased again)." in out
    assert Service.objects.filter(slug="data-annotation").exists()
    assert not Industry.objects.filter(slug="later").exists()
    assert not User.objects.filter(pk=erased.pk).exists()  # the restore brought them back; replay erased them
    after = _table_counts()
    for table in ("content_service", "content_industry", "accounts_user"):
        expected = before[table] - (1 if table == "accounts_user" else 0)
        assert after[table] == expected, table

    safety = BackupRecord.objects.get(name__contains="pre-restore")
    assert safety.tier == BackupTier.MANUAL
    assert storages["backups"].exists(safety.name)
    restored = AuditLog.objects.get(action="backup.restored")
    assert restored.changes["safety_backup"] == safety.name and restored.changes["erasures_replayed"] == 1
    assert verify_chain().ok
    # The safety backup undoes the restore.
    _run("restore_db", safety.name, "--yes", "--no-safety-backup")
    assert Industry.objects.filter(slug="later").exists()


def test_restore_refuses_a_backup_from_newer_code_and_touches_nothing(content):
    backup = backups.backup_create(tier=BackupTier.MANUAL)
    _rewrite_manifest(
        backup.name, lambda manifest: manifest["migrations"].append("content.9999_from_the_future")
    )
    Industry.objects.create(name="Kept", slug="kept")
    with pytest.raises(
        CommandError, match="migrations this code does not know \\(content.9999_from_the_future\\)"
    ):
        _run("restore_db", backup.name, "--yes")
    assert Industry.objects.filter(slug="kept").exists()
    assert BackupRecord.objects.count() == 1  # no safety backup either
    assert not AuditLog.objects.filter(action="backup.restored").exists()


def test_restore_asks_first_and_a_no_changes_nothing(content):
    backup = backups.backup_create(tier=BackupTier.MANUAL)
    Industry.objects.create(name="Kept", slug="kept")
    with pytest.raises(CommandError, match="Restore cancelled: nothing was changed"):
        _run("restore_db", backup.name, stdin=_Terminal("no\n"))
    assert Industry.objects.filter(slug="kept").exists()
    assert BackupRecord.objects.count() == 1


def test_restore_refuses_a_corrupt_file_before_touching_the_database(content):
    backup = backups.backup_create(tier=BackupTier.MANUAL)
    _flip(backup.name, backup.size // 3)
    Industry.objects.create(name="Kept", slug="kept")
    with pytest.raises(CommandError, match="does not match its manifest"):
        _run("restore_db", backup.name, "--yes")
    assert Industry.objects.filter(slug="kept").exists()
    assert BackupRecord.objects.count() == 1


@pytest.mark.postgres
def test_a_failing_restore_rolls_back_and_leaves_the_database_as_it_was(content, monkeypatch, tmp_path):
    """One transaction: SQL that fails after the schema was dropped leaves every table in place."""
    backup = backups.backup_create(tier=BackupTier.MANUAL)
    Industry.objects.create(name="Kept", slug="kept")
    script = tmp_path / "pg_restore"  # stands in for pg_restore: half a restore, then an error
    script.write_text("#!/bin/sh\necho 'CREATE TABLE half_done (id int);'\necho 'SELECT 1/0;'\n")
    script.chmod(0o755)
    real = backup_engines.pg_program
    monkeypatch.setattr(
        backup_engines, "pg_program", lambda name: str(script) if name == "pg_restore" else real(name)
    )
    with pytest.raises(CommandError, match="rolled back, the database is unchanged: .*division by zero"):
        _run("restore_db", backup.name, "--yes", "--no-safety-backup")
    assert Industry.objects.filter(slug="kept").exists()
    assert "half_done" not in connection.introspection.table_names()
    assert not AuditLog.objects.filter(action="backup.restored").exists()


def test_backups_go_through_the_storage_api_to_s3(content, settings):
    """S3 cannot run here: moto stands in for it, behind django-storages' real S3Storage."""
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3", region_name="eu-west-1").create_bucket(
            Bucket="indivillage-backups", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        settings.STORAGES = {
            **settings.STORAGES,
            "backups": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "indivillage-backups",
                    "location": "backups",
                    "region_name": "eu-west-1",
                    "file_overwrite": False,
                },
            },
        }
        settings.BACKUP_ENCRYPTION_KEY = "s3-key"
        record = backups.backup_create(tier=BackupTier.DAILY)
        listed = boto3.client("s3", region_name="eu-west-1").list_objects_v2(Bucket="indivillage-backups")
        keys = sorted(item["Key"] for item in listed["Contents"])
        assert keys == [
            f"backups/{record.name}",
            f"backups/{record.name}.files",
            f"backups/{record.name}.manifest.json",
        ]
        assert backup_verification.backup_verify(record.name).ok
        # The second verdict replaces the first under the same key, though S3 here never overwrites.
        assert backup_verification.backup_verify(record.name).ok
        listed = boto3.client("s3", region_name="eu-west-1").list_objects_v2(Bucket="indivillage-backups")
        assert f"backups/{record.name}.verify.json" in [item["Key"] for item in listed["Contents"]]
        assert listed["KeyCount"] == 4
        BackupRecord.objects.all().delete()
        rebuilt = backups.backup_records_sync()
        assert [r.name for r in rebuilt] == [record.name]
        assert BackupRecord.objects.get(name=record.name).verify_status == VerifyStatus.PASSED


def test_beat_runs_the_tiers_prune_and_a_weekly_random_verification(content):
    from django_celery_beat.models import PeriodicTask

    from ops import tasks

    tasks_by_name = {task.name: task for task in PeriodicTask.objects.filter(task__startswith="ops.tasks.")}
    assert json.loads(tasks_by_name["hourly database backup"].kwargs) == {"tier": "hourly"}
    daily = tasks_by_name["daily database backup, verified"]
    assert json.loads(daily.kwargs) == {"tier": "daily", "verify": True}
    weekly = tasks_by_name["verify a random recent backup"].crontab
    assert weekly.day_of_week == "0"
    assert tasks_by_name["prune old backups"].crontab.hour == "3"

    outcome = tasks.backup_create.delay(**json.loads(daily.kwargs)).get()
    assert outcome["verified"] is True
    record = BackupRecord.objects.get(name=outcome["name"])
    assert record.tier == BackupTier.DAILY and record.verify_status == VerifyStatus.PASSED
    assert tasks.backup_verify_random.delay().get()["ok"] is True
    assert tasks.backups_prune.delay().get() == {"deleted": 0, "kept_newest_verified": record.name}

    from common.locks import job_lock

    with job_lock(tasks.BACKUP_LOCK):
        assert tasks.backup_create.delay(tier="hourly").get() == {"skipped": True}
    assert BackupRecord.objects.count() == 1


def test_restoring_a_backup_from_older_code_migrates_it_forward(content):
    # The backup is taken one content migration back (with what depends on it), the restore on the latest.
    latest = MigrationLoader(connection).graph.leaf_nodes("content")[0]
    previous = next(
        p for p in MigrationLoader(connection).graph.node_map[latest].parents if p[0] == "content"
    )
    call_command("migrate", "content", previous[1], verbosity=0)
    older = backups.backup_create(tier=BackupTier.MANUAL)
    assert f"content.{latest[1]}" not in older.manifest["migrations"]
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        newer = {f"{app}.{name}" for app, name in cursor.fetchall()} - set(older.manifest["migrations"])
    assert f"content.{latest[1]}" in newer

    out = _run("restore_db", older.name, "--yes", "--no-safety-backup")
    assert f"Then:     {len(newer)} newer migrations will be applied" in out
    assert f"Migrating forward: {len(newer)} migrations are newer than the backup" in out
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM django_migrations WHERE app = 'content' AND name = %s", [latest[1]]
        )
        assert cursor.fetchone()[0] == 1
    assert AuditLog.objects.get(action="backup.restored").changes["migrated"] == len(newer)


@pytest.mark.postgres
def test_a_table_with_unhashable_column_types_is_checksummed_by_its_text(content):
    """json and point have no hash function: that table falls back to hashing the row's text form."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE backup_probe (id int, doc json, spot point)")
        cursor.execute("""INSERT INTO backup_probe VALUES (1, '{"a": 1}', '(1,2)'), (2, '[]', '(3,4)')""")
    try:
        record = backups.backup_create(tier=BackupTier.MANUAL)
        assert record.manifest["tables"]["backup_probe"]["hash"] == "text"
        assert record.manifest["tables"]["backup_probe"]["rows"] == 2
        assert record.manifest["tables"]["content_service"]["hash"] == "record"
        assert backup_verification.backup_verify(record.name).ok
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE backup_probe")


def test_the_admin_shows_a_backup_as_an_operator_reads_it(content, admin_client):
    record = backups.backup_create(tier=BackupTier.DAILY)
    backup_verification.backup_verify(record.name)
    client = admin_client

    listing = client.get("/admin/ops/backuprecord/")
    assert listing.status_code == 200
    assert record.name in listing.content.decode() and ">passed<" in listing.content.decode()

    page = client.get(f"/admin/ops/backuprecord/{record.pk}/change/").content.decode()
    tables = len(record.manifest["tables"])
    assert f"{tables} tables" in page and "every count and checksum matched" in page
    assert "<td>content_service</td>" in page  # the per-table rows, not a JSON blob
    assert '"checksum"' not in page
    assert client.post(f"/admin/ops/backuprecord/{record.pk}/delete/").status_code == 403
    assert BackupRecord.objects.filter(pk=record.pk).exists()


def test_restore_retires_the_public_cache_so_clients_get_the_restored_content(content):
    # pytest-django's api_client would need the `db` fixture's transaction; a plain client suffices.
    from rest_framework.test import APIClient

    from content.publishing import content_save

    client = APIClient()
    Service.objects.update(status=PublishStatus.PUBLISHED, published_at=timezone.now())
    backup = backups.backup_create(tier=BackupTier.MANUAL)
    before = client.get("/api/v1/services/")
    added = Service(
        name="Added later",
        slug="added-later",
        description="After the backup",
        status=PublishStatus.PUBLISHED,
        published_at=timezone.now(),
    )
    content_save(instance=added, actor=None)
    changed = client.get("/api/v1/services/")
    assert {s["slug"] for s in changed.json()["results"]} == {"data-annotation", "added-later"}

    _run("restore_db", backup.name, "--noinput", "--no-safety-backup")

    after = client.get("/api/v1/services/", HTTP_IF_NONE_MATCH=changed["ETag"])
    assert after.status_code == 200, "a client's ETag of the page from after the backup still matched"
    assert [s["slug"] for s in after.json()["results"]] == ["data-annotation"]
    # The ETag is the content's: the page is the backup's again, and so is its ETag.
    assert after["ETag"] == before["ETag"]
    assert client.get("/api/v1/services/", HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 304


class _Terminal(StringIO):
    """A stdin that says it is a terminal, with the operator's answer already typed."""

    def isatty(self):
        return True


@pytest.mark.parametrize("how", ["cron", "a script's pipe"])
def test_restore_without_a_terminal_refuses_before_doing_anything(content, monkeypatch, how):
    backup = backups.backup_create(tier=BackupTier.MANUAL)
    Industry.objects.create(name="Kept", slug="kept")
    with pytest.raises(CommandError, match="restore_db needs confirmation: .*pass --noinput"):
        if how == "cron":  # stdin is /dev/null: input() used to end in EOFError
            monkeypatch.setattr("sys.stdin", StringIO(""))
            _run("restore_db", backup.name)
        else:  # even a "yes" piped in is no operator's confirmation
            _run("restore_db", backup.name, stdin=StringIO("yes\n"))
    assert Industry.objects.filter(slug="kept").exists()
    assert BackupRecord.objects.count() == 1  # no safety backup
    assert not AuditLog.objects.filter(action="backup.restored").exists()


def test_restore_noinput_and_its_alias_yes_run_without_a_terminal(content):
    backup = backups.backup_create(tier=BackupTier.MANUAL)
    for flag in ("--noinput", "--no-input", "--yes"):
        Industry.objects.create(name="Gone", slug="gone")
        out = _run("restore_db", backup.name, flag, "--no-safety-backup", stdin=StringIO())
        assert f"Restored {backup.name}" in out
        assert not Industry.objects.filter(slug="gone").exists()
    # call_command's usual spelling of --noinput, as migrate and flush take it.
    Industry.objects.create(name="Gone", slug="gone")
    _run("restore_db", backup.name, interactive=False, no_safety_backup=True)
    assert not Industry.objects.filter(slug="gone").exists()


def test_restore_at_a_terminal_asks_and_yes_restores(content):
    backup = backups.backup_create(tier=BackupTier.MANUAL)
    Industry.objects.create(name="Gone", slug="gone")
    out = _run("restore_db", backup.name, "--no-safety-backup", stdin=_Terminal("yes\n"))
    assert "Type 'yes' to restore" in out and f"Restored {backup.name}" in out
    assert not Industry.objects.filter(slug="gone").exists()
