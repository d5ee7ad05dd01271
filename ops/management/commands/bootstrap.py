from django.core.management.base import CommandError

from common.commands import BaseCommand
from ops.services import SetupError, bootstrap_run


class Command(BaseCommand):
    help = (
        "Creates the first admin (FIRST_ADMIN_EMAIL / FIRST_ADMIN_PASSWORD) and the four core services. "
        "Safe to run again: it changes nothing that exists."
    )

    def handle(self, *args, **options):
        try:
            result = bootstrap_run()
        except SetupError as error:
            raise CommandError(str(error)) from error
        if result.admin_created:
            self.stdout.write(self.style.SUCCESS(f"Admin {result.admin_email}: created."))
            if result.generated_password:
                self.stdout.write(
                    f"  Generated password (shown this once): {result.generated_password}\n"
                    "  Log in at /admin/ and change it, or set FIRST_ADMIN_PASSWORD before the first run."
                )
        else:
            self.stdout.write(f"Admin {result.admin_email}: exists, unchanged.")
        self.stdout.write(
            f"Core services: {len(result.services_created)} created, "
            f"{len(result.services_existing)} existing."
        )
