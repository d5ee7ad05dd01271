"""
Django's `changepassword`, replaced (accounts comes before django.contrib.auth in INSTALLED_APPS) so
that a password set from the shell is a password change like any other: the password rules, every API
token revoked, every session ended, audited (accounts.services.user_password_set, via "command").
"""

import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from accounts.selectors import user_by_email
from accounts.services import user_password_set
from common.commands import BaseCommand

MAX_TRIES = 3


class Command(BaseCommand):
    help = (
        "Change a user's password (the address in any letter case). Revokes every API token and ends "
        "every session of the user; audited."
    )
    requires_migrations_checks = True
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("username", metavar="email", help="The user's e-mail address.")

    def handle(self, *args, username, **options):
        user = user_by_email(email=username)
        if user is None:
            raise CommandError(f"No user with the e-mail address {username!r}.")
        self.stdout.write(f"Changing password for user '{user}'")
        for _ in range(MAX_TRIES):
            password = getpass.getpass()
            if password != getpass.getpass("Password (again): "):
                self.stdout.write("Passwords do not match. Please try again.")
                continue
            try:
                user_password_set(user=user, password=password, actor=None, via="command")
            except ValidationError as error:
                self.stderr.write("\n".join(error.messages))
                continue
            return f"Password changed successfully for user '{user}'; their tokens and sessions ended."
        raise CommandError(f"Aborting password change for user '{user}' after {MAX_TRIES} attempts")
