from django.core.management.base import CommandError

from common.commands import BaseCommand
from ops.beat import BEAT_HEARTBEAT, heartbeat_age
from ops.health import age_text


class Command(BaseCommand):
    # A health check runs this every minute: it must not wait on unrelated system checks.
    requires_system_checks = []
    help = (
        "Exits non-zero unless Celery beat has written its heartbeat (ops.Heartbeat) within --max-age "
        "seconds: the health check of the beat container."
    )

    def add_arguments(self, parser):
        # Beat writes the heartbeat every 30 s (ops.beat.HEARTBEAT_EVERY); four of them may be missed.
        parser.add_argument("--max-age", type=int, default=120, help="Seconds (default 120).")

    def handle(self, *args, max_age, **options):
        age = heartbeat_age()
        if age is None:
            raise CommandError(f"{BEAT_HEARTBEAT}: no heartbeat yet")
        if age.total_seconds() > max_age:
            raise CommandError(f"{BEAT_HEARTBEAT}: last heartbeat {age_text(age)}, older than {max_age} s")
        self.stdout.write(f"{BEAT_HEARTBEAT}: last heartbeat {age_text(age)}")
