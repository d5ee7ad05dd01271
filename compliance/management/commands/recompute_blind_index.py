from django.core.management.base import CommandError
from django.utils import timezone

from common.commands import BaseCommand
from compliance.rotation import RotationError, blind_index_recompute

from ._rotation_output import batch_line, counts_table


class Command(BaseCommand):
    help = (
        "Recomputes the e-mail blind index of every form submission under the current BLIND_INDEX_KEY, in "
        "batches. Run it right after deploying a new BLIND_INDEX_KEY: until it finishes, submissions not "
        "yet done are not found by e-mail. Resumes where it stopped. See docs/compliance.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")
        parser.add_argument(
            "--restart",
            action="store_true",
            help="Run a finished recomputation for the current key again (e.g. after restoring a backup).",
        )

    def handle(self, *args, batch_size, restart, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        started = timezone.now()
        try:
            rotation = blind_index_recompute(
                batch_size=batch_size,
                restart=restart,
                progress=lambda done: self.stdout.write(batch_line(done)),
            )
        except RotationError as error:
            raise CommandError(str(error)) from error
        if rotation.finished_at < started:
            self.stdout.write(
                f"The blind index for key {rotation.target} was already recomputed at "
                f"{rotation.finished_at:%Y-%m-%d %H:%M:%S %Z}: nothing to do (--restart runs it again)."
            )
        for line in counts_table(rotation.counts):
            self.stdout.write(line)
        if rotation.finished_at >= started:
            self.stdout.write(self.style.SUCCESS("Done: every submission is indexed under the current key."))
