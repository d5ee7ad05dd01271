from django.core.management.base import CommandError

from common.commands import BaseCommand
from ops.backup_verification import backup_verify
from ops.backups import BackupError, backup_pick


class Command(BaseCommand):
    # A backup must not wait on an unrelated system check (a warning about a setting, say).
    requires_system_checks = []
    help = (
        "Proves a backup by restoring it: checks its sha256, restores it into a scratch database "
        "(dropped afterwards), and compares every table's row count and checksum with the manifest. "
        "Records the verdict. Exits with an error when the backup fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", default="", help="The backup's name (see backup_db --list).")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--latest", action="store_true", help="The newest backup.")
        which.add_argument("--random", action="store_true", help="A random backup of the last 7 days.")

    def handle(self, *args, name, latest, random, **options):
        if name and (latest or random):
            raise CommandError("Give a name, or --latest, or --random: not both.")
        try:
            name = backup_pick(name=name, latest=latest, pick_random=random)
            self.stdout.write(f"Verifying {name}: checksum, restore into a scratch database, compare...")
            result = backup_verify(name)
        except BackupError as error:
            raise CommandError(str(error)) from error
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(f"  {problem}")
            count = len(result.problems)
            raise CommandError(f"{name} FAILED verification ({count} problem{'s' if count > 1 else ''}).")
        self.stdout.write(f"  {result.tables} tables, {result.rows} rows: every count and checksum matches.")
        if result.files:
            self.stdout.write(f"  {result.files} files: every size and sha256 matches.")
        self.stdout.write(self.style.SUCCESS(f"{name} passed verification in {result.seconds:.1f} s."))
