from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.utils import timezone

from common.commands import BaseCommand
from common.encryption import key_fingerprint, keyring
from compliance.rotation import RotationError, field_key_pending, field_key_rotate

from ._rotation_output import batch_line, counts_table


class Command(BaseCommand):
    help = (
        "Re-encrypts every encrypted field value not yet under FIELD_ENCRYPTION_KEY (phone numbers, form "
        "data), in batches. Run it after deploying a new key with the old one in FIELD_ENCRYPTION_OLD_KEYS; "
        "an interrupted run resumes where it stopped. See docs/compliance.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count, per field, the values not yet under the current key. Writes nothing.",
        )
        parser.add_argument(
            "--restart",
            action="store_true",
            help="Run a finished rotation to the current key again (e.g. after restoring a backup).",
        )

    def handle(self, *args, batch_size, dry_run, restart, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        try:
            target = key_fingerprint(keyring.current_raw_key())
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        if dry_run:
            self._dry_run(batch_size, target)
            return

        self.stdout.write(f"Rotating encrypted fields to the key with fingerprint {target}.")
        started = timezone.now()
        try:
            rotation = field_key_rotate(
                batch_size=batch_size,
                restart=restart,
                progress=lambda done: self.stdout.write(batch_line(done)),
            )
        except RotationError as error:
            raise CommandError(str(error)) from error
        if rotation.finished_at < started:
            self.stdout.write(
                f"The rotation to {target} already finished at {rotation.finished_at:%Y-%m-%d %H:%M:%S %Z}: "
                "nothing to do. (--dry-run counts values not under the current key; --restart runs it again.)"
            )
        for line in counts_table(rotation.counts):
            self.stdout.write(line)
        if rotation.finished_at >= started:
            self.stdout.write(
                self.style.SUCCESS(
                    "Done: every encrypted value is under the current key. Keys in FIELD_ENCRYPTION_OLD_KEYS "
                    "can now be removed."
                )
            )

    def _dry_run(self, batch_size: int, target: str) -> None:
        self.stdout.write(
            f"Dry run: values not yet under the key with fingerprint {target}. Nothing is written."
        )
        pending = field_key_pending(batch_size=batch_size)
        width = max([len("field"), *(len(p.field) for p in pending)])
        self.stdout.write(f"{'field':<{width}}  {'rows':>8}  {'to rewrite':>10}  {'unreadable':>10}")
        for p in pending:
            self.stdout.write(f"{p.field:<{width}}  {p.rows:>8}  {p.pending:>10}  {p.unreadable:>10}")
        for p in pending:
            if p.unreadable:
                self.stdout.write(
                    self.style.WARNING(
                        f"{p.field}: {p.unreadable} value(s) open with no configured key (first: {p.first_unreadable_pk}). "
                        "Add the key they were written with to FIELD_ENCRYPTION_OLD_KEYS before rotating."
                    )
                )
        self.stdout.write(f"{sum(p.pending for p in pending)} value(s) to rewrite.")
