from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from ops.backups import BackupError, backup_restore, restore_plan


class Command(BaseCommand):
    help = (
        "Restores a backup over the database. Refuses a backup taken by newer code; checks the file; "
        "takes a safety backup of the current database; restores in one transaction; migrates forward "
        "if the backup is older than the code; replays the GDPR erasures made since the backup. Stop the "
        "web, worker and beat processes first (docs/backups.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The backup's name (see backup_db --list).")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
        parser.add_argument(
            "--no-safety-backup",
            action="store_true",
            help="Skip the backup of the current database (only when it is known to be worthless).",
        )

    def handle(self, *args, name, yes, no_safety_backup, **options):
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
        if plan.missing_migrations:
            self.stdout.write(f"Then:     {len(plan.missing_migrations)} newer migrations will be applied")
        self.stdout.write(f"Replaces: the database {database}, everything in it now")
        if not yes:
            if not options.get("interactive", True):
                raise CommandError("Refusing to restore without confirmation: pass --yes.")
            answer = input("Type 'yes' to restore: ")
            if answer.strip().lower() != "yes":
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
