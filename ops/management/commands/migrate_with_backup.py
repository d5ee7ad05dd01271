from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, ProgrammingError

from common.commands import BaseCommand
from ops.backups import BackupError
from ops.upgrades import migrations_pending, pre_migration_backup


class Command(BaseCommand):
    # Like `migrate`: a check about the new code's settings must not stop the schema it needs.
    requires_system_checks = []
    help = (
        "The deploy's migrate step: when migrations are pending and the database holds data, backs it up "
        "first (tier manual, label before-migrate), then runs `migrate`. A failed backup stops here, "
        "before any migration ran. --skip-backup migrates without one (an emergency, said in the log)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")
        parser.add_argument("--skip-backup", action="store_true", help="Migrate without a backup first.")

    def handle(self, *args, interactive, skip_backup, **options):
        pending = migrations_pending()
        if not pending:
            self.stdout.write("No migrations to apply: the schema is up to date, no backup needed.")
            return
        self.stdout.write(
            f"{len(pending)} migrations to apply: {', '.join(pending[:5])}{' …' if len(pending) > 5 else ''}"
        )
        if skip_backup:
            self.stderr.write(self.style.WARNING("--skip-backup: migrating WITHOUT a backup."))
        else:
            try:
                record = pre_migration_backup()
            except BackupError as error:
                raise CommandError(
                    f"The backup before migrating failed, so nothing was migrated: {error}"
                ) from error
            except DatabaseError as error:
                if not _schema_mismatch(error):
                    raise  # an outage: common.commands says which service could not be reached
                # The dump was taken, but its record and audit row could not be written: a pending
                # migration changes those tables. backup_create removed the file; nothing was migrated.
                raise CommandError(
                    "The backup before migrating could not be recorded, so nothing was migrated: a pending "
                    f"migration changes the backup or audit tables ({error}). Take a backup with the "
                    "running release (manage.py backup_db --label before-migrate), then run this with "
                    "--skip-backup."
                ) from error
            if record is None:
                self.stdout.write("The database holds no data yet: no backup needed.")
            else:
                self.stdout.write(f"Backed up first: {record.name} ({record.size} bytes).")
        call_command("migrate", interactive=interactive, stdout=self.stdout, stderr=self.stderr)
        self.stdout.write(self.style.SUCCESS(f"Migrated: {len(pending)} migrations applied."))


def _schema_mismatch(error: DatabaseError) -> bool:
    """A table or column the code expects and the unmigrated schema lacks (SQLite calls it operational)."""
    return isinstance(error, ProgrammingError) or any(
        words in str(error) for words in ("no such column", "has no column", "no such table")
    )
