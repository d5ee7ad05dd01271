#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    if sys.argv[1:2] != ["runserver"]:
        # A command is one process doing one thing: a pool only makes it wait DATABASE_POOL_TIMEOUT and
        # log each retry when the database is down, before its one-line error (common/commands.py).
        os.environ.setdefault("DATABASE_POOL", "false")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
