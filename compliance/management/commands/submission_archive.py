import json

from django.core.management.base import CommandError

from common.commands import BaseCommand
from compliance.archive import ArchiveError, archive_read, archives_list


class Command(BaseCommand):
    help = (
        "Lists the archives of submissions that retention purged (encrypted, in the backup storage), or "
        "prints one archive's rows as JSON lines, less the people erased since (docs/compliance.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", default="", help="The archive to read (see --list).")
        parser.add_argument("--list", action="store_true", help="List the archives, oldest first.")

    def handle(self, *args, name, list, **options):
        if list or not name:
            archives = archives_list()
            if not archives:
                self.stdout.write("No archives yet.")
            for archive in archives:
                self.stdout.write(
                    f"{archive.name}  {archive.archived_at:%Y-%m-%d %H:%M} UTC  {archive.rows} rows"
                )
            return
        try:
            rows = archive_read(name)
        except ArchiveError as error:
            raise CommandError(str(error)) from error
        for row in rows:
            self.stdout.write(json.dumps(row, sort_keys=True, ensure_ascii=False))
