import json
import os

from django.core.management.base import CommandError
from django.core.serializers.json import DjangoJSONEncoder

from accounts.models import User
from common.commands import BaseCommand
from common.crypto import normalize_email
from compliance.gdpr import user_export


class Command(BaseCommand):
    help = (
        "Exports the personal data held about one user (GDPR access or portability request) as JSON: "
        "profile, submissions (also those sent as a visitor with the same address), uploads with their "
        "analyses, audit events. The export is audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The user's e-mail address (letter case does not matter).")
        parser.add_argument(
            "--output", metavar="FILE", help="Write the JSON to FILE (created readable by its owner only)."
        )

    def handle(self, *args, email, output, **options):
        user = User.objects.filter(email=normalize_email(email)).first()
        if user is None:
            raise CommandError(f"No user with the e-mail address {email!r}.")
        document = user_export(user=user, actor=None)
        text = json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False) + "\n"
        if not output:
            self.stdout.write(text, ending="")
            return
        try:
            # Personal data: never world-readable, whatever the umask.
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error}") from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {output}: {len(document['submissions'])} submission(s), "
                f"{len(document['uploads'])} upload(s), {len(document['audit_events'])} audit event(s)."
            )
        )
