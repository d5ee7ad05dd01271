"""
bin/setup-postgres on a private cluster (initdb on a free port; the shared server's roles are never
touched), and the app run as its roles: the owner migrates and restores, the application role serves and
backs up but cannot switch the audit log's protection off, the read-only role only reads. The same
cluster preloads pg_stat_statements and archives WAL, for what db_metrics and /readyz say about them.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from common.testing.stack import Cluster, production_env, wait_until

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "indivillage"
HEARTBEAT_INSERT = (
    "INSERT INTO ops_heartbeat (id, created_at, updated_at, name, beat_at, details) "
    "VALUES (gen_random_uuid(), now(), now(), %s, now(), '{}')"
)
ROLES = {"owner": "iv_owner", "app": "iv_app", "readonly": "iv_readonly"}


def _url(cluster: Cluster, role: str) -> str:
    return f"postgres://{ROLES[role]}@127.0.0.1:{cluster.port}/{DATABASE}"


def _setup(cluster: Cluster) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PG")},
        "PGHOST": "127.0.0.1",
        "PGPORT": str(cluster.port),
        "PGUSER": "postgres",
        "DB_NAME": DATABASE,
        "DB_OWNER": ROLES["owner"],
        "DB_APP": ROLES["app"],
        "DB_READONLY": ROLES["readonly"],
        "DB_APP_PASSWORD": "not-used-by-trust",
    }
    return subprocess.run(
        ["bash", str(ROOT / "bin" / "setup-postgres")], env=env, capture_output=True, text=True, timeout=120
    )


def _manage(cluster: Cluster, role: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = production_env(database_url=_url(cluster, role), var_dir=var_dir, BACKUP_ENCRYPTION_KEY="")
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def _ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def cluster():
    pg_dir = Path(tempfile.mkdtemp(prefix="roles-pg-"))
    var_dir = Path(tempfile.mkdtemp(prefix="roles-app-"))
    found = None
    try:
        found = Cluster(pg_dir, bin_dir=settings.PG_BIN_DIR)
        found.start(shared_preload_libraries="pg_stat_statements", archive_mode="on")
        first, again = _setup(found), _setup(found)
        _ok(first)
        _ok(again)  # safe to run again
        found.setup_output = first.stdout
        found.var_dir = var_dir
        _ok(_manage(found, "owner", var_dir, "migrate", "--noinput"))
        yield found
    finally:
        if found is not None:
            with contextlib.suppress(RuntimeError):
                found.stop("immediate")
        shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(var_dir, ignore_errors=True)


def _connect(cluster: Cluster, role: str):
    return psycopg.connect(_url(cluster, role), autocommit=True)


def _refused(conn, sql: str) -> str:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        conn.execute(sql)
    return str(refused.value)


def test_the_roles_are_neither_superusers_nor_each_other(cluster):
    assert "roles iv_owner (owner), iv_app (application), iv_readonly (read-only)" in cluster.setup_output
    with _connect(cluster, "app") as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname LIKE 'iv_%'"
        ).fetchall()
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_auditlog'").fetchone()
        extensions = {name for (name,) in conn.execute("SELECT extname FROM pg_extension")}
    assert sorted(rows) == [(role, False, False, False) for role in sorted(ROLES.values())]
    assert owner == ("iv_owner",)
    assert {"pg_trgm", "pg_stat_statements"} <= extensions


def test_the_application_role_cannot_switch_the_audit_log_off(cluster):
    # The app appends to the chain as this role, as it does on every audited change.
    appended = "from audit.services import audit_record as a; a(action='roles.test', entity_type='test')"
    _ok(_manage(cluster, "app", cluster.var_dir, "shell", "-c", appended))
    with _connect(cluster, "app") as conn:
        assert conn.execute("SELECT action FROM audit_auditlog").fetchall() == [("roles.test",)]
        assert "must be owner" in _refused(
            conn, "ALTER TABLE audit_auditlog DISABLE TRIGGER audit_auditlog_append_only"
        )
        assert "must be owner" in _refused(conn, "ALTER TABLE audit_auditlog DISABLE TRIGGER ALL")
        assert "must be owner" in _refused(conn, "DROP TABLE audit_auditlog")
        assert "must be owner" in _refused(conn, "DROP TRIGGER audit_auditlog_append_only ON audit_auditlog")
        assert "permission denied" in _refused(conn, "TRUNCATE audit_auditlog")
        # Replica mode would skip every trigger: a superuser's setting.
        assert "permission denied" in _refused(conn, "SET session_replication_role = replica")
        assert "append-only" in _refused(conn, "UPDATE audit_auditlog SET action = 'x'")
        assert "append-only" in _refused(conn, "DELETE FROM audit_auditlog")
        # Any role may declare a purge cut-off; none can purge a row younger than the database's floor.
        conn.execute("BEGIN")
        conn.execute("SET LOCAL audit.purge_before = 'infinity'")
        assert "append-only" in _refused(conn, "DELETE FROM audit_auditlog")
        conn.execute("ROLLBACK")
        # Nor replace the trigger's function, nor create anything beside the tables.
        assert "permission denied for schema public" in _refused(
            conn,
            "CREATE OR REPLACE FUNCTION audit_auditlog_no_truncate() "
            "RETURNS trigger AS 'BEGIN RETURN NULL; END' LANGUAGE plpgsql",
        )
        # What it is for: rows.
        conn.execute(HEARTBEAT_INSERT, ["roles-test"])
        assert conn.execute("SELECT count(*) FROM ops_heartbeat").fetchone() == (1,)


def test_the_read_only_role_reads_and_writes_nothing(cluster):
    with _connect(cluster, "readonly") as conn:
        assert conn.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 50
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(HEARTBEAT_INSERT, ["read-only"])
        conn.execute("SET default_transaction_read_only = off")
        assert "permission denied" in _refused(conn, HEARTBEAT_INSERT.replace("%s", "'read-only'"))


def test_the_app_role_backs_up_and_verifies_and_the_owner_restores(cluster):
    """The weekly verification restores into a scratch database: the app role makes and drops it."""
    var_dir = cluster.var_dir
    made = _ok(_manage(cluster, "app", var_dir, "backup_db", "--label", "roles"))
    name = next(line.split()[-1] for line in made.splitlines() if line.strip().startswith("name:"))
    verified = _ok(_manage(cluster, "app", var_dir, "verify_backup", name))
    assert f"{name} passed verification" in verified
    with _connect(cluster, "app") as conn:
        conn.execute("DELETE FROM ops_heartbeat")
    restored = _ok(_manage(cluster, "owner", var_dir, "restore_db", name, "--noinput"))
    assert "pg_stat_statements is not created again" in restored
    with _connect(cluster, "app") as conn:
        # The restored tables are the app's to write to and the read-only role's to read.
        assert conn.execute("SELECT count(*) FROM ops_heartbeat").fetchone() == (1,)
        conn.execute("UPDATE ops_heartbeat SET beat_at = now()")
        assert "must be owner" in _refused(conn, "ALTER TABLE audit_auditlog DISABLE TRIGGER ALL")
    with _connect(cluster, "readonly") as conn:
        assert conn.execute("SELECT count(*) FROM ops_heartbeat").fetchone() == (1,)
    # The superuser-only extension went with the schema; setup-postgres brings it back.
    _ok(_setup(cluster))
    with _connect(cluster, "app") as conn:
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()


def test_db_metrics_shows_the_slow_query_and_the_statements(cluster):
    def sleep():
        with _connect(cluster, "readonly") as conn:
            conn.execute("SELECT pg_sleep(8), 'visitor@example.com' AS who /* the-slow-one */")

    sleeper = threading.Thread(target=sleep)
    sleeper.start()
    try:
        time.sleep(5.5)
        shown = json.loads(_ok(_manage(cluster, "app", cluster.var_dir, "db_metrics", "--json")))
        text = _ok(_manage(cluster, "app", cluster.var_dir, "db_metrics"))
    finally:
        sleeper.join()
    slow = shown["activity"]["slow"]
    assert [(row["user"], "the-slow-one" in row["query"]) for row in slow] == [("iv_readonly", True)]
    assert slow[0]["seconds"] > 5
    assert shown["statements"]["status"] == "ok" and shown["statements"]["rows"]
    assert {"table", "dead_rows", "last_autovacuum"} <= set(shown["vacuum"][0])
    assert shown["disk"] and all(0 < entry["free_percent"] <= 100 for entry in shown["disk"])
    assert "Queries running over 5 s" in text and "the-slow-one" in text
    # The statement's shape, not the values bound into it.
    assert "visitor@example.com" not in text and "visitor@example.com" not in json.dumps(shown)
    assert "'…' AS who" in slow[0]["query"]


def _readiness_of_wal(cluster: Cluster) -> dict:
    out = _ok(
        _manage(
            cluster,
            "app",
            cluster.var_dir,
            "shell",
            "-c",
            "import json; from ops.health import check_wal_archive as c; o = c(2); "
            "print(json.dumps({'status': o.status, 'detail': o.detail}))",
        )
    )
    return json.loads(out.strip().splitlines()[-1])


def test_readiness_warns_while_wal_archiving_fails_and_clears_when_it_works(cluster):
    archive = cluster.base / "wal-archive"
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET archive_command = 'false'")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("CREATE TABLE IF NOT EXISTS wal_filler (n int)")
        conn.execute("INSERT INTO wal_filler SELECT generate_series(1, 1000)")
        conn.execute("SELECT pg_switch_wal()")
    wait_until(lambda: _readiness_of_wal(cluster)["status"] == "warn", within=60, what="a warning")
    failing = _readiness_of_wal(cluster)
    assert "archiving is failing" in failing["detail"]

    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET archive_command = 'mkdir -p {archive} && cp %p {archive}/%f'")
        conn.execute("SELECT pg_reload_conf()")
    wait_until(lambda: _readiness_of_wal(cluster)["status"] == "ok", within=90, what="archiving again")
    assert any(archive.iterdir())
