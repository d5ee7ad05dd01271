"""Database metrics: the selector, `manage.py db_metrics` and the admin page, on the engine under test."""

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.db.utils import ConnectionHandler
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from accounts.tests.factories import UserFactory
from common.models import JobLock
from ops import metrics
from ops.metrics import db_metrics, human_bytes
from ops.metrics_display import metrics_sections
from ops.models import BackupRecord, Heartbeat, VerifyStatus

pytestmark = pytest.mark.django_db

PAGE = "/admin/ops/db-metrics/"
# Enough rows for every table of the schema to be listed.
ALL = 1000


def run(*args) -> str:
    out = StringIO()
    call_command("db_metrics", *args, stdout=out)
    return out.getvalue()


def section(text: str, title: str) -> list[str]:
    """The lines of one table of the text output: its header row and rows, up to the blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def test_human_bytes():
    assert [human_bytes(n) for n in (None, 0, 1023, 1024, 1536, 5 * 1024**3)] == [
        "-",
        "0 B",
        "1023 B",
        "1.0 KB",
        "1.5 KB",
        "5.0 GB",
    ]


def test_json_lists_the_real_tables_with_their_rows():
    UserFactory.create_batch(3)
    found = json.loads(run("--json", "--limit", str(ALL)))
    assert found["vendor"] == connection.vendor and found["alias"] == "default"
    assert found["size_bytes"] > 0
    tables = {t["name"]: t for t in found["tables"]}
    users = tables["accounts_user"]
    assert users["total_bytes"] >= users["index_bytes"] > 0
    indexes = {i["name"]: i for i in found["indexes"]}
    if connection.vendor == "sqlite":
        # Counted, so exact; PostgreSQL's estimate only moves once the rows are committed and analysed.
        assert users["rows_estimate"] == User.objects.count() == 3
        assert indexes["accounts_user_created_at_04bd66b9"]["table"] == "accounts_user"
    else:
        assert indexes["accounts_user_pkey"]["table"] == "accounts_user"


def test_limit_caps_every_list():
    found = json.loads(run("--json", "--limit", "2"))
    assert len(found["tables"]) == 2 and len(found["indexes"]) == 2
    sizes = [t["total_bytes"] for t in found["tables"]]
    assert sizes == sorted(sizes, reverse=True)


def test_text_output_is_aligned_tables_with_human_sizes():
    text = run("--limit", str(ALL))
    assert text.startswith(f"Database {connection.settings_dict['NAME']} (alias default)")
    assert re.search(r"^Size: \d+(\.\d)? (B|KB|MB|GB)", text, re.M)
    rows = section(text, "Largest tables")
    assert rows[0].split() == ["table", "total", "table", "indexes", "rows", "(est.)"]
    # Right-aligned last column: every line of the table ends at the same place.
    assert len({len(line) for line in rows}) == 1
    users = next(line for line in rows if line.split()[0] == "accounts_user")
    assert re.fullmatch(r"\s+accounts_user\s+\S+ (B|KB|MB)\s+\S+ (B|KB|MB)\s+\S+ (B|KB|MB)\s+[\d,]+", users)


def test_bad_alias_and_limit_are_refused():
    with pytest.raises(CommandError, match="No database alias 'nope'"):
        run("--database", "nope")
    with pytest.raises(CommandError, match="--limit must be 1 or more"):
        run("--limit", "0")


def test_sqlite_figures_from_a_real_file(tmp_path):
    # A handler of its own: the file is a database of its own, whatever the suite runs on.
    handler = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": tmp_path / "s.db"}}
    )
    scratch = handler["default"]
    try:
        with scratch.cursor() as cursor:
            cursor.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT)")
            cursor.execute("CREATE INDEX big_body ON big (body)")
            cursor.execute("CREATE TABLE small (id INTEGER PRIMARY KEY)")
            cursor.execute(  # 200 rows of 500 characters, in one statement
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
                "INSERT INTO big (body) SELECT hex(zeroblob(250)) FROM n"
            )
            cursor.execute("INSERT INTO small DEFAULT VALUES")
        found = metrics._sqlite(scratch, limit=10)
    finally:
        scratch.close()
    assert [t["name"] for t in found["tables"]] == ["big", "small"]
    big = found["tables"][0]
    assert big["rows_estimate"] == 200 and big["table_bytes"] > 200 * 500 and big["index_bytes"] > 200 * 500
    assert big["total_bytes"] == big["table_bytes"] + big["index_bytes"]
    assert found["indexes"][0] == {
        "table": "big",
        "name": "big_body",
        "scans": None,
        "size_bytes": big["index_bytes"],
    }
    assert found["size_bytes"] == found["page_size"] * found["page_count"] == found["file_bytes"]
    assert "connections" in found["postgresql_only"] and "slowest statements" in found["postgresql_only"]


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_connections_cache_and_indexes():
    found = db_metrics(limit=ALL)
    # The connection running the query is active while it runs.
    assert found["connections"]["by_state"].get("active", 0) >= 1
    assert found["connections"]["max_connections"] > 0
    # The test server is a primary; the test "replica" is a second database, not a standby.
    assert found["replication"]["role"] == "primary"
    cache = found["cache"]
    assert cache["blocks_hit"] > 0 and 0 < cache["hit_ratio"] <= 1
    indexes = {i["name"]: i for i in found["indexes"]}
    assert (
        indexes["accounts_user_pkey"]["primary"] and indexes["accounts_user_pkey"]["table"] == "accounts_user"
    )
    unique = {name for name, i in indexes.items() if i["unique"]}
    assert found["unused_indexes"] and not unique & {i["name"] for i in found["unused_indexes"]}
    assert all(i["name"] in indexes and indexes[i["name"]]["scans"] == 0 for i in found["unused_indexes"])
    assert "accounts_user" in {s["table"] for s in found["table_scans"]}


@pytest.mark.postgres
def test_postgres_pools_as_this_process_sees_them(settings, monkeypatch):
    pools = type(connections["default"])._connection_pools
    # The replica alias of the test settings, never used in this process as far as this test knows.
    monkeypatch.delitem(pools, "replica", raising=False)
    found = db_metrics()["pools"]
    assert found["default"]["status"] == "open"
    assert found["default"]["pool_max"] == settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
    assert found["default"]["pool_size"] >= 1
    assert found["replica"] == {"status": "no pool in this process"}
    assert "replica" not in pools  # looking did not create one


@pytest.mark.postgres
def test_pg_stat_statements_not_installed_then_not_loaded():
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION IF EXISTS pg_stat_statements")
        cursor.execute("SELECT current_setting('shared_preload_libraries')")
        preloaded = "pg_stat_statements" in cursor.fetchone()[0]
    absent = db_metrics()["statements"]
    assert absent["status"] == "not installed" and "CREATE EXTENSION pg_stat_statements" in absent["detail"]

    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION pg_stat_statements")
    found = db_metrics()["statements"]
    if preloaded:
        assert found["status"] == "ok" and found["rows"]
    else:
        assert found["status"] == "not loaded" and "shared_preload_libraries" in found["detail"]
        assert found["rows"] == []
    # The failed read was undone to its savepoint: the transaction around it still works (an aborted
    # one would raise here).
    User.objects.count()
    assert "Slowest statements (pg_stat_statements): " + found["status"] in run()


@pytest.mark.postgres
def test_postgres_text_output_names_every_section():
    text = run()
    for title in (
        "Cache hit ratio:",
        "Connections to this database:",
        "Replication: a primary",
        "Largest tables",
        "Largest indexes, with their scans",
        "Unused indexes",
        "Sequential and index scans",
        "Connection pools (this process)",
        "Slowest statements (pg_stat_statements):",
        "Active queries (longest first)",
        "Queries running over 5 s",
        "Dead rows and vacuum (most dead rows first)",
        "WAL archiving: off (archive_mode = off)",
        "Disk free (private): ",
    ):
        assert title in text
    pools = section(text, "Connection pools")
    assert pools[1].split()[:2] == ["default", "open"]


# --- the admin ------------------------------------------------------------------------------------


def client_for(role: str | None) -> Client:
    client = Client()
    if role is not None:
        client.force_login(UserFactory(role=role))
    return client


def test_page_is_for_admins_only():
    assert reverse("admin:ops_db_metrics") == PAGE
    anonymous = client_for(None).get(PAGE)
    assert anonymous.status_code == 302 and anonymous["Location"] == f"/admin/login/?next={PAGE}"
    # A signed-in non-staff user is sent to the log-in page too, and sees no figure.
    refused = client_for(Role.USER).get(PAGE)
    assert refused.status_code == 302 and refused["Location"].startswith("/admin/login/")
    # Editors work on content and impact only: the row counts of users, tokens and submissions are not
    # theirs to see.
    editor = client_for(Role.EDITOR).get(PAGE)
    assert editor.status_code == 403
    assert b"Largest tables" not in editor.content
    page = client_for(Role.ADMIN).get(PAGE)
    assert page.status_code == 200
    assert b"Largest tables" in page.content


def test_page_shows_the_real_figures():
    page = client_for(Role.ADMIN).get(PAGE).content.decode()
    size = int(re.search(r'id="database-size" data-bytes="(\d+)"', page).group(1))
    assert size > 0
    largest = db_metrics(limit=1)["tables"][0]["name"]
    assert f"<td>{largest}</td>" in page
    if connection.vendor == "postgresql":
        assert re.search(r'data-states="[^"]*\bactive\b', page) and 'data-role="primary"' in page
        assert re.search(r'id="statements-status" data-status="not (installed|loaded)"', page)
    else:
        assert "On PostgreSQL only:" in page


@pytest.mark.django_db(databases=["default", "replica"])
def test_page_switches_database_and_ignores_unknown_ones():
    client = client_for(Role.ADMIN)
    page = client.get(PAGE, {"database": "nope"}).content.decode()
    assert "(alias default)" in page
    assert '<option value="replica">replica</option>' in page
    switched = client.get(PAGE, {"database": "replica"}).content.decode()
    assert "(alias replica)" in switched and "(alias default)" not in switched
    assert '<option value="replica" selected>replica</option>' in switched


def test_the_index_links_the_page_for_admins_only():
    index = client_for(Role.ADMIN).get("/admin/").content.decode()
    assert f'href="{PAGE}"' in index and "Database metrics" in index
    assert PAGE in client_for(Role.ADMIN).get("/admin/ops/").content.decode()
    editor = client_for(Role.EDITOR)
    index = editor.get("/admin/").content.decode()
    assert "Content" in index and PAGE not in index and "Database metrics" not in index
    # No Operations app for an editor at all: they hold no right on any of its models.
    assert editor.get("/admin/ops/").status_code == 404


def test_backups_locks_and_heartbeats_are_read_only():
    record = BackupRecord.objects.create(
        name="daily-2025-03-01.dump",
        tier="daily",
        engine="postgresql",
        size=3 * 1024 * 1024,
        sha256="a" * 64,
        verify_status=VerifyStatus.FAILED,
    )
    JobLock.objects.create(
        name="apply_retention", holder="worker-1:42:abcd", expires_at=timezone.now() + timedelta(hours=1)
    )
    Heartbeat.objects.create(name="celery-beat")
    client = client_for(Role.ADMIN)

    listing = client.get(reverse("admin:ops_backuprecord_changelist")).content.decode()
    assert "daily-2025-03-01.dump" in listing and "3.0 MB" in listing and "Failed verification" in listing
    assert ">FAILED</strong>" in listing  # the row itself, not only the filter's label
    assert f'href="{PAGE}"' in listing
    assert reverse("admin:ops_backuprecord_add") not in listing
    assert client.get(reverse("admin:ops_backuprecord_add")).status_code == 403
    change = reverse("admin:ops_backuprecord_change", args=[record.pk])
    assert client.post(change, {"name": "renamed"}).status_code == 403
    assert (
        client.post(reverse("admin:ops_backuprecord_delete", args=[record.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert BackupRecord.objects.get(pk=record.pk).name == "daily-2025-03-01.dump"

    assert "worker-1:42:abcd" in client.get(reverse("admin:common_joblock_changelist")).content.decode()
    assert "celery-beat" in client.get(reverse("admin:ops_heartbeat_changelist")).content.decode()
    # Editors have no rights on operations' rows.
    assert client_for(Role.EDITOR).get(reverse("admin:ops_backuprecord_changelist")).status_code == 403


def test_the_command_and_the_page_show_the_same_sections_and_cells():
    """Both render ops.metrics_display's sections: the titles and every cell are the same strings."""
    text = run()
    page = client_for(Role.ADMIN).get(PAGE).content.decode()
    sections = metrics_sections(db_metrics())
    for found in sections[1:]:
        if found.title:
            assert found.title in text and f"<caption>{found.title}</caption>" in page
    for found in sections:
        for fact in found.facts:
            assert f"{fact.label}: " in text and f'<th scope="row">{fact.label}</th>' in page
    tables = [s for s in sections if s.rows]
    assert tables
    for found in tables:
        # Sizes and counts as they stood when each was read: the first column names the row.
        for row in found.rows:
            assert f"<td>{row[0]}</td>" in page and row[0] in text
