import sys

from django.core.management.base import CommandError
from django.db import connections

from common.commands import BaseCommand
from ops.backup_restoration import backup_restore, restore_plan
from ops.backups import BackupError
from ops.metrics import human_bytes


class Command(BaseCommand):
    help = (
        "Restores a backup over the database. Refuses a backup taken by newer code; checks the file; "
        "takes a safety backup of the current database; restores in one transaction; migrates forward "
        "if the backup is older than the code; replays the GDPR erasures made since the backup. Stop the "
        "web, worker and beat processes first (docs/backups.md)."
    )

    # call_command(..., stdin=...) as for createsuperuser: the stream the confirmation is read from.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("name", help="The backup's name (see backup_db --list).")
        parser.add_argument(
            "--noinput",
            "--no-input",
            "--yes",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation (for cron and scripts). --yes is the older name.",
        )
        parser.add_argument(
            "--no-safety-backup",
            action="store_true",
            help="Skip the backup of the current database (only when it is known to be worthless).",
        )

    def handle(self, *args, name, interactive, no_safety_backup, **options):
        stdin = options.get("stdin") or sys.stdin
        if interactive and not _is_terminal(stdin):
            # Checked first: cron or a script without --noinput must not get as far as reading the file.
            raise CommandError(
                "restore_db needs confirmation: it replaces the whole database, and there is no terminal "
                "to ask on. Run it in a terminal, or pass --noinput to run it from cron or a script."
            )
        try:
            plan = restore_plan(name)
        except BackupError as error:
            raise CommandError(str(error)) from error
        manifest = plan.manifest
        database = connections["default"].settings_dict["NAME"]
        rows = sum(table["rows"] for table in manifest["tables"].values())
        self.stdout.write(f"Backup:   {name}")
        self.stdout.write(f"Taken:    {manifest['created_at']} by app version {manifest.get('app_version')}")
        self.stdout.write(f"Holds:    {len(manifest['tables'])} tables, {rows} rows")
        if "files" in manifest:
            files = manifest["files"]
            self.stdout.write(
                f"          {files['count']} files ({human_bytes(files['bytes'])}): uploads and media"
            )
        if plan.missing_migrations:
            self.stdout.write(f"Then:     {len(plan.missing_migrations)} newer migrations will be applied")
        self.stdout.write(
            f"Replaces: the database {database}, everything in it now"
            + (", and the stored uploads and media" if "files" in manifest else "")
        )
        if interactive:
            self.stdout.write("Type 'yes' to restore: ", ending="")
            self.stdout.flush()
            # readline() gives "" at end of input, where input() raised EOFError.
            if stdin.readline().strip().lower() != "yes":
                raise CommandError("Restore cancelled: nothing was changed.")
        try:
            result = backup_restore(
                plan, safety_backup=not no_safety_backup, say=lambda message: self.stdout.write(message)
            )
        except BackupError as error:
            raise CommandError(str(error)) from error
        if result.safety_backup:
            self.stdout.write(f"To undo: manage.py restore_db {result.safety_backup}")
        self.stdout.write(
            f"Erasures replayed: {result.erasures_replayed} ({result.users_erased} users erased again)."
        )
        self.stdout.write(self.style.SUCCESS(f"Restored {name} in {result.seconds:.1f} s."))


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False
