from django.core.management.base import CommandError

from common.commands import BaseCommand
from compliance.retention import POLICIES, retention_apply


def _period(delta) -> str:
    days = delta.days
    if days % 365 == 0:
        return f"{days // 365} years"
    if days % 30 == 0:
        return f"{days // 30} months"
    return f"{days} days"


class Command(BaseCommand):
    help = (
        "Applies the retention policies (settings.RETENTION): anonymises inactive users, deletes old "
        "uploads and submissions, purges old audit rows and long-trashed content. Prints what matched "
        "and what was done. Users on legal hold, and what is theirs, are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be done; change nothing."
        )
        parser.add_argument(
            "--policy", action="append", choices=list(POLICIES), help="Only this policy (may be repeated)."
        )
        parser.add_argument("--batch-size", type=int, help="Rows per transaction (default: per policy).")

    def handle(self, *args, dry_run, policy, batch_size, **options):
        def on_batch(result):
            if options["verbosity"] > 1 or result.batches % 10 == 0:
                self.stdout.write(f"  {result.name}: {result.done}/{result.matched - result.held} done")

        try:
            run = retention_apply(policies=policy, dry_run=dry_run, batch_size=batch_size, on_batch=on_batch)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if run.locked_out:
            self.stdout.write(self.style.WARNING("Another retention run holds the lock: nothing done."))
            return
        rows = [("policy", "older than", "cut-off (UTC)", "matched", "legal hold", "done", "")]
        for r in run.results:
            done = f"would be {r.action}" if dry_run else r.action
            cutoff = r.cutoff.strftime("%Y-%m-%d %H:%M")
            rows.append((r.name, _period(r.period), cutoff, str(r.matched), str(r.held), str(r.done), done))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for i, row in enumerate(rows):
            self.stdout.write(
                "  ".join(
                    cell.ljust(w) if j in (0, 1, 2, 6) else cell.rjust(w)
                    for j, (cell, w) in enumerate(zip(row, widths, strict=True))
                ).rstrip()
            )
            if i == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
        for r in run.results:
            if r.archives:
                self.stdout.write(
                    f"{r.name}: archived in {len(r.archives)} encrypted files before deletion, e.g. "
                    f"{r.archives[0]} (read them with manage.py submission_archive)"
                )
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Retention applied: {sum(r.done for r in run.results)} rows.")
            )
