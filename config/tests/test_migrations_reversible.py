"""
Every migration can be undone: on a fresh database of its own (a file on SQLite, a new database on the
PostgreSQL server of the suite), every app goes to zero and back, in one child process.
"""

import json
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.db import connection

from common.testing.stack import ROOT, embedded_env

# The reports first (a post_migrate hook once read a table these steps had removed), then
# every app with migrations to zero, then everything forward again.
SCRIPT = r"""
import json, sys
import django
django.setup()
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

steps = [["migrate"], ["migrate", "content", "0001"], ["migrate", "content", "zero"], ["migrate", "accounts", "zero"]]
steps += [["migrate", app, "zero"] for app in sorted(MigrationLoader(connection).migrated_apps)]
steps += [["migrate"]]
for step in steps:
    print("step " + " ".join(step), file=sys.stderr, flush=True)
    call_command(*step, verbosity=0, interactive=False)

loader = MigrationLoader(connection)
missing = sorted(f"{app}.{name}" for app, name in loader.graph.nodes if (app, name) not in loader.applied_migrations)
unreadable = []
for model in apps.get_models():
    try:
        model._default_manager.exists()
    except Exception as error:
        unreadable.append(f"{model._meta.label}: {error}")
print(json.dumps({"steps": len(steps), "missing": missing, "unreadable": unreadable}))
"""


@pytest.fixture
def fresh_database_url(tmp_path):
    """A database no test has touched: a new file, or a new database on the suite's PostgreSQL server."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    config = settings.DATABASES["default"]
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    server = f"postgres://{config['USER']}:{config['PASSWORD']}@{config['HOST']}:{config['PORT'] or 5432}"
    subprocess.run(["psql", f"{server}/postgres", "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield f"{server}/{name}"
    finally:
        subprocess.run(["psql", f"{server}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{name}"'], check=True)


def test_every_app_migrates_to_zero_and_back(tmp_path, fresh_database_url):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=embedded_env(
            var_dir=tmp_path / "var",
            DJANGO_SETTINGS_MODULE="config.settings.local",
            DATABASE_URL=fresh_database_url,
            DATABASE_POOL="false",
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    steps = [line for line in done.stderr.splitlines() if line.startswith("step ")]
    assert done.returncode == 0, f"failed at `{steps[-1] if steps else 'start'}`:\n{done.stderr[-4000:]}"
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["steps"] > 10
    assert found["missing"] == [], "migrations left unapplied after migrating back"
    assert found["unreadable"] == [], "models whose table the migrations do not give back"
