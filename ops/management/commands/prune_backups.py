from django.conf import settings

from common.commands import BaseCommand
from ops.backups import backups_prune


class Command(BaseCommand):
    # A backup must not wait on an unrelated system check (a warning about a setting, say).
    requires_system_checks = []
    help = (
        "Deletes hourly backups older than BACKUP_KEEP_HOURLY_DAYS (7) and daily ones older than "
        "BACKUP_KEEP_DAILY_DAYS (30). Manual backups are kept, and so is the newest verified backup."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be deleted; delete nothing."
        )

    def handle(self, *args, dry_run, **options):
        keep = ", ".join(f"{tier} {period.days} days" for tier, period in settings.BACKUP_KEEP.items())
        self.stdout.write(f"Keeping: {keep}; manual backups until deleted by hand.")
        result = backups_prune(dry_run=dry_run)
        if result.kept_newest_verified:
            self.stdout.write(f"Newest verified backup, never pruned: {result.kept_newest_verified}")
        verb = "Would delete" if dry_run else "Deleted"
        for name in result.deleted:
            self.stdout.write(f"  {verb.lower()} {name}")
        self.stdout.write(self.style.SUCCESS(f"{verb} {len(result.deleted)} backups."))
