from datetime import UTC, datetime, time

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from common.commands import BaseCommand
from common.progress import Progress
from compliance.journal import journal_path
from compliance.replay import erasures_replay


def parse_since(value: str) -> datetime:
    """An ISO date (midnight UTC) or date and time; a time without an offset is UTC."""
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = datetime.combine(day, time.min) if day else None
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(
            f"--since {value!r} is not an ISO date or date and time (e.g. 2025-03-01 or 2025-03-01T14:00Z)."
        )
    return timezone.make_aware(moment, UTC) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = (
        "After a database restore: applies again every GDPR erasure made at or after --since (the time "
        "the restored backup was taken, or earlier), from the erasure journal and the ErasureRecord "
        "table. Erases restored users again, deletes their submissions, puts back missing ErasureRecords "
        "and journal lines. Running it twice changes nothing the second time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            required=True,
            help="ISO date or date and time (UTC unless an offset is given), e.g. 2025-03-01T02:00Z.",
        )

    def handle(self, *args, since, **options):
        moment = parse_since(since)
        bar = None

        def progress(done, total):
            nonlocal bar
            if total < 50:  # quick enough to need no bar
                return
            bar = bar or Progress(self.stdout, total, "replaying")
            bar.advance()

        result = erasures_replay(since=moment, progress=progress)
        self.stdout.write(f"Erasure journal: {journal_path()}")
        if result["unreadable_lines"]:
            self.stdout.write(
                self.style.WARNING(
                    f"{result['unreadable_lines']} journal line(s) could not be read: see the log."
                )
            )
        if not result["rows"]:
            self.stdout.write(f"No erasure at or after {moment.isoformat()}: nothing to do.")
            return
        self._table(result["rows"])
        for row in result["rows"]:
            if row["legal_hold"]:
                self.stdout.write(
                    self.style.WARNING(
                        f"WARNING: user {row['user_id']} is on legal hold and was erased again: the "
                        "erasure had already happened before the restore. Tell whoever placed the hold."
                    )
                )
        summary = (
            f"{result['erasures']} erasure(s) since {moment.isoformat()}: {result['users_erased']} user(s) "
            f"erased again, {result['submissions_deleted']} submission(s) and {result['uploads_deleted']} "
            f"upload(s) deleted, {result['records_restored']} record(s) restored, "
            f"{result['journal_repaired']} journal line(s) written."
        )
        if result["changed"]:
            self.stdout.write(self.style.SUCCESS(summary))
        else:
            self.stdout.write(summary + " Nothing needed doing.")

    def _table(self, rows):
        lines = [("record", "user", "erased at (UTC)", "user", "submissions", "uploads", "record", "journal")]
        for row in rows:
            lines.append(
                (
                    row["record_id"],
                    row["user_id"] or "(visitor)",  # visitor_data_erase: forms of an address, no account
                    row["erased_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    ("erased again" + (" (HOLD)" if row["legal_hold"] else ""))
                    if row["user_erased"]
                    else "absent",
                    str(row["submissions"]),
                    str(row["uploads"]),
                    "restored" if row["record_restored"] else "present",
                    "written" if row["journal_repaired"] else "present",
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        for i, line in enumerate(lines):
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
            if i == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
