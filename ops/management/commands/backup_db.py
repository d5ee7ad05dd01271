from django.core.management.base import CommandError

from common.commands import BaseCommand
from ops.backups import BackupError, backup_create, backup_records_sync
from ops.metrics import human_bytes
from ops.models import BackupRecord, BackupTier


class Command(BaseCommand):
    # A backup must not wait on an unrelated system check (a warning about a setting, say).
    requires_system_checks = []
    help = (
        "Backs the database up into STORAGES['backups']: pg_dump in custom format on PostgreSQL, the "
        "sqlite3 backup API on SQLite, encrypted when BACKUP_ENCRYPTION_KEY is set, with a manifest of "
        "every table's row count and checksum. --list shows the backups instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tier", choices=BackupTier.values, default=BackupTier.MANUAL)
        parser.add_argument("--label", default="", help="A word added to the name, e.g. before-upgrade.")
        parser.add_argument(
            "--list", action="store_true", help="List the backups (records rebuilt from storage first)."
        )

    def handle(self, *args, tier, label, list, **options):
        if list:
            return self._list()
        if label and not label.replace("-", "").isalnum():
            raise CommandError("--label may hold letters, digits and dashes only.")
        self.stdout.write(f"Backing up the database ({tier})...")
        try:
            record = backup_create(tier=tier, label=label)
        except BackupError as error:
            raise CommandError(str(error)) from error
        tables = record.manifest["tables"]
        self.stdout.write(f"  name:     {record.name}")
        self.stdout.write(f"  size:     {human_bytes(record.size)} ({record.size} bytes)")
        self.stdout.write(f"  sha256:   {record.sha256}")
        self.stdout.write(
            f"  tables:   {len(tables)} ({sum(t['rows'] for t in tables.values())} rows)"
            f", {len(record.manifest['migrations'])} migrations"
        )
        if "files" in record.manifest:
            files = record.manifest["files"]
            self.stdout.write(
                f"  files:    {files['count']} ({human_bytes(files['bytes'])}): uploads and media"
            )
            for vanished in record.manifest.get("files_vanished", []):
                self.stdout.write(f"  deleted while it ran, left out: {vanished}")
        self.stdout.write(f"  encrypted: {'yes' if record.encrypted else 'no'}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup {record.name} written. Prove it: manage.py verify_backup {record.name}"
            )
        )

    def _list(self):
        added = backup_records_sync()
        if added:
            self.stdout.write(f"{len(added)} backups found in storage without a record: recorded.")
        records = BackupRecord.objects.order_by("-created_at")
        if not records:
            self.stdout.write("No backups yet.")
            return
        self.stdout.write(f"{'name':<60} {'tier':<7} {'size':>10} {'verified':<10} verified at")
        for record in records:
            verified = f"{record.verified_at:%Y-%m-%d %H:%M}" if record.verified_at else "-"
            self.stdout.write(
                f"{record.name:<60} {record.tier:<7} {human_bytes(record.size):>10} "
                f"{record.verify_status:<10} {verified}"
            )
