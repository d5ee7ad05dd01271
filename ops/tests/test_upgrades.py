"""
The deploy's migrate step (`migrate_with_backup`): a backup first when migrations are pending and there
is data to lose, none otherwise, and nothing migrated when the backup fails. Transactional, as the
backup tests are: pg_dump is another process and sees only committed rows.
"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from content.models import Industry
from ops import backups
from ops.backups import BackupError
from ops.models import BackupRecord
from ops.upgrades import migrations_pending

pytestmark = pytest.mark.django_db(transaction=True)


def _run(*args):
    out = StringIO()
    call_command("migrate_with_backup", "--noinput", *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def one_content_migration_behind():
    """The schema as the running release left it: content's latest migration (and what needs it) not applied."""
    graph = MigrationLoader(connection).graph
    latest = graph.leaf_nodes("content")[0]
    previous = next(p for p in graph.node_map[latest].parents if p[0] == "content")
    call_command("migrate", "content", previous[1], verbosity=0)
    yield f"content.{latest[1]}"
    call_command("migrate", verbosity=0)  # the latest schema for the tests after this one


def test_an_up_to_date_schema_is_neither_backed_up_nor_migrated():
    Industry.objects.create(name="Agritech", slug="agritech")
    assert "the schema is up to date, no backup needed" in _run()
    assert not BackupRecord.objects.exists()


def test_pending_migrations_over_data_are_preceded_by_a_backup(one_content_migration_behind):
    Industry.objects.create(name="Agritech", slug="agritech")
    assert one_content_migration_behind in migrations_pending()

    out = _run()
    record = BackupRecord.objects.get()
    assert "-before-migrate" in record.name and f"Backed up first: {record.name}" in out
    # The backup holds the schema as it was: the migration ran after it, not before.
    assert one_content_migration_behind not in record.manifest["migrations"]
    assert record.manifest["tables"]["content_industry"]["rows"] == 1
    assert migrations_pending() == [] and "Migrated:" in out


def test_a_database_without_data_is_migrated_without_a_backup(one_content_migration_behind):
    out = _run()
    assert "holds no data yet: no backup needed" in out
    assert not BackupRecord.objects.exists()
    assert migrations_pending() == []


def test_a_failed_backup_stops_before_any_migration(one_content_migration_behind, monkeypatch):
    Industry.objects.create(name="Agritech", slug="agritech")

    def broken(**kwargs):
        raise BackupError("pg_dump exited 1: disk full")

    monkeypatch.setattr(backups, "backup_create", broken)
    monkeypatch.setattr("ops.upgrades.backup_create", broken)
    with pytest.raises(CommandError, match="nothing was migrated: pg_dump exited 1: disk full"):
        _run()
    assert one_content_migration_behind in migrations_pending()


def test_skip_backup_migrates_without_one_and_says_so(one_content_migration_behind):
    Industry.objects.create(name="Agritech", slug="agritech")
    out = _run("--skip-backup")
    assert "migrating WITHOUT a backup" in out
    assert not BackupRecord.objects.exists() and migrations_pending() == []
