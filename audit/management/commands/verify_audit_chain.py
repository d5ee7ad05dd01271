from django.core.management.base import CommandError

from audit.models import AuditLog
from audit.selectors import audit_chain_verify
from common.commands import BaseCommand


class Command(BaseCommand):
    help = (
        "Recomputes the audit log's hash chain from its first row and names the first row that was "
        "altered, inserted or removed. Exits with an error when the chain is broken."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--chunk-size", type=int, default=2000, help="Rows read per query (default 2000)."
        )

    def handle(self, *args, chunk_size, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        total = AuditLog.objects.count()
        verbose = options["verbosity"] > 1 or total > 50_000
        step = max(total // 20, 1)

        def progress(checked):
            if verbose and checked % step == 0:
                self.stdout.write(f"  {checked}/{total} rows verified")

        report = audit_chain_verify(chunk_size=chunk_size, progress=progress)
        if not report.ok:
            raise CommandError(
                f"Audit chain broken after {report.checked} good rows: {report.problem}. "
                "Treat the log from that row on as untrusted and investigate who wrote to the database."
            )
        if report.checked == 0:
            self.stdout.write("The audit log is empty: nothing to verify.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Audit chain intact: {report.checked} rows, #{report.first_sequence} to #{report.last_sequence}, "
                f"head hash {report.head_hash}."
            )
        )
