from django.conf import settings
from django.core.management.base import CommandError

from common.commands import BaseCommand
from common.progress import Progress
from ops.services import SetupError, seed_demo_run


class Command(BaseCommand):
    help = (
        "Loads demo content: users, industries, locations, case studies, impact stories and form "
        "submissions. Safe to run again. --scale N makes N times as many rows, for benchmarks."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale", type=int, default=1, help="How many copies of the demo rows (default 1)."
        )
        parser.add_argument("--force", action="store_true", help="Allow running under production settings.")

    def handle(self, *args, scale, force, **options):
        if settings.ENVIRONMENT == "production" and not force:
            raise CommandError("Refusing to load demo content under production settings (use --force).")
        if scale < 1:
            raise CommandError("--scale must be 1 or more.")
        progress = Progress(self.stdout, total=scale, label="Seeding") if scale > 1 else None
        try:
            result = seed_demo_run(scale=scale, progress=progress)
        except SetupError as error:
            raise CommandError(str(error)) from error
        created = {name: count for name, count in result.created.items() if count}
        if not created:
            self.stdout.write("Demo content already present: nothing created.")
            return
        for name, count in created.items():
            self.stdout.write(f"  {name}: {count} created")
        self.stdout.write(self.style.SUCCESS("Demo content loaded."))
