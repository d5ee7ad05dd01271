import json

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError

from common.commands import BaseCommand
from ops.metrics import DEFAULT_LIMIT, db_metrics
from ops.metrics_display import metrics_sections, sections_text


class Command(BaseCommand):
    help = (
        "Database metrics: size, largest tables, index use, connections, cache hit ratio, connection pools "
        "and the slowest statements (PostgreSQL; SQLite gives what it has). See docs/database.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="The database alias (default: default).")
        parser.add_argument("--json", action="store_true", help="One JSON document instead of tables.")
        parser.add_argument(
            "--limit", type=int, default=DEFAULT_LIMIT, help=f"Rows per list (default {DEFAULT_LIMIT})."
        )

    def handle(self, *args, **options):
        alias, limit = options["database"], options["limit"]
        if alias not in settings.DATABASES:
            raise CommandError(f"No database alias {alias!r}; known: {', '.join(settings.DATABASES)}.")
        if limit < 1:
            raise CommandError("--limit must be 1 or more.")
        try:
            metrics = db_metrics(using=alias, limit=limit)
        except DatabaseError as error:
            raise CommandError(f"Could not read the metrics of {alias!r}: {error}") from error
        if options["json"]:
            self.stdout.write(json.dumps(metrics, indent=2, default=str))
        else:
            self.stdout.write(sections_text(metrics_sections(metrics)))
