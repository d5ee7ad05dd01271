"""
The base of every management command of the project: a database, cache or storage that cannot be
reached ends the command with one `CommandError` line (exit 1), not a traceback an operator must read
from the bottom up. A bug still shows its traceback: only these outages are translated.
"""

import sqlite3

from django.core.management.base import BaseCommand as DjangoBaseCommand
from django.core.management.base import CommandError
from django.db import InterfaceError, OperationalError


def _outage_kinds() -> list[tuple[tuple[type[BaseException], ...], str]]:
    """(exception classes, what could not be reached), the optional client libraries only if installed."""
    database: list[type[BaseException]] = [OperationalError, InterfaceError, sqlite3.OperationalError]
    cache: list[type[BaseException]] = []
    storage: list[type[BaseException]] = [OSError]
    try:  # raw psycopg, as the backups use it outside Django's connection
        import psycopg

        database += [psycopg.OperationalError, psycopg.InterfaceError]
    except ImportError:
        pass
    try:
        import redis

        cache += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:
        pass
    try:  # S3 through django-storages
        from botocore.exceptions import BotoCoreError, ClientError

        storage += [BotoCoreError, ClientError]
    except ImportError:
        pass
    # Order matters: redis's ConnectionError is not an OSError, but check the specific kinds first.
    return [
        (tuple(database), "the database"),
        (tuple(cache), "the cache (Redis)"),
        (tuple(storage), "the storage (or a file)"),
    ]


def outage_message(error: BaseException) -> str | None:
    """One line naming what failed and why, or None when `error` is not an outage."""
    for kinds, what in _outage_kinds():
        if kinds and isinstance(error, kinds):
            # libpq's messages span lines ("Is the server running on that host...?"): one line here.
            detail = " ".join(str(error).split()) or type(error).__name__
            return f"{what} could not be used: {detail}"
    return None


class BaseCommand(DjangoBaseCommand):
    """Django's BaseCommand, with outages turned into a one-line CommandError (see the module)."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except CommandError:
            raise
        except Exception as error:
            message = outage_message(error)
            if message is None:
                raise
            raise CommandError(message) from error
