"""
Management commands facing an outage (issue #14, item 10): one `CommandError` line and exit 1, no
traceback, and no backup file or record left behind.
"""

import importlib
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from common.commands import BaseCommand
from common.testing.stack import free_port
from ops.models import BackupRecord

pytestmark = pytest.mark.django_db(transaction=True)

COMMAND_FILES = sorted(Path(settings.BASE_DIR).glob("*/management/commands/[!_]*.py"))


@pytest.mark.parametrize("path", COMMAND_FILES, ids=lambda path: path.stem)
def test_every_command_of_the_project_builds_on_the_common_base(path):
    module = ".".join(path.relative_to(settings.BASE_DIR).with_suffix("").parts)
    assert issubclass(importlib.import_module(module).Command, BaseCommand), module


def test_a_storage_that_cannot_be_written_is_one_command_error_and_leaves_no_record(settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backups folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {**settings.STORAGES["backups"], "OPTIONS": {"location": str(blocker), "base_url": None}},
    }
    with pytest.raises(CommandError) as raised:
        call_command("backup_db", stdout=StringIO())
    message = str(raised.value)
    assert message.startswith("the storage (or a file) could not be used: ") and "\n" not in message
    assert BackupRecord.objects.count() == 0
    assert blocker.read_text() == "a file where the backups folder should be"


@pytest.mark.parametrize(
    "command", [["backup_db"], ["backup_db", "--list"], ["verify_backup", "--latest"], ["verify_audit_chain"]]
)
def test_a_command_with_the_database_down_prints_one_line_and_exits_1(command, tmp_path):
    """A real `manage.py` process, its DATABASE_URL on a port where nothing listens."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "DJANGO_", "REDIS_", "PYTEST_")) and key != "REQUIRE_POSTGRES"
    }
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/iv_nowhere",
        VAR_DIR=str(tmp_path / "var"),
    )
    (tmp_path / "var" / "backups").mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("CommandError: the database could not be used: connection failed:")
    assert "Connection refused" in lines[0] and "Traceback" not in result.stderr
    assert list((tmp_path / "var" / "backups").iterdir()) == []
