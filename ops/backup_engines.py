"""
The database engines under the backups (ops/backups.py): pg_dump and pg_restore with libpq's
environment, row counts and checksums per table, and SQLite's backup API. Also the errors of the whole
backup feature and the storage and scratch folder every step uses.
"""

# The client programs run with fixed arguments and libpq's environment; nothing comes from a request.
# ruff: noqa: S603
import hashlib
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import storages
from django.db import connections
from django.utils import timezone

from common import filecrypt

from . import erasure_boundary

logger = logging.getLogger(__name__)


class BackupError(Exception):
    """A backup, verification or restore cannot go on; the message says what the operator must do."""


class BackupSetupError(BackupError):
    """Something about this machine, not the backup, is wrong (a key, a program): no verdict is recorded."""


def storage():
    return storages["backups"]


def vendor(alias: str = "default") -> str:
    return connections[alias].vendor


def scratch_dir():
    return tempfile.TemporaryDirectory(prefix="indivillage-backup-", dir=settings.BACKUP_TMP_DIR or None)


# --- PostgreSQL plumbing ----------------------------------------------------------------------------


def pg_program(name: str) -> str:
    folder = settings.PG_BIN_DIR
    path = os.path.join(folder, name) if folder else shutil.which(name)
    if not path or not os.path.exists(path):
        raise BackupSetupError(
            f"{name} was not found: install the PostgreSQL client programs (Debian: postgresql-client, "
            "the same major version as the server) or set PG_BIN_DIR."
        )
    return path


def pg_params(alias: str = "default", *, dbname: str | None = None) -> dict:
    """Connection parameters for psycopg and the client programs, outside Django's pool."""
    db = settings.DATABASES[alias]
    options = db.get("OPTIONS", {})
    params = {
        "dbname": dbname or db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": str(db["PORT"]) if db.get("PORT") else None,
        "sslmode": options.get("sslmode"),
        "connect_timeout": options.get("connect_timeout", 10),
        "options": options.get("options"),
    }
    return {key: value for key, value in params.items() if value not in (None, "")}


def pg_env(params: dict) -> dict:
    """The libpq environment for pg_dump, pg_restore and psql: the password never goes on a command line."""
    names = {
        "dbname": "PGDATABASE",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "host": "PGHOST",
        "port": "PGPORT",
        "sslmode": "PGSSLMODE",
        "connect_timeout": "PGCONNECT_TIMEOUT",
        "options": "PGOPTIONS",
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update({names[key]: str(value) for key, value in params.items()})
    return env


def pg_connect(params: dict, **kwargs):
    import psycopg

    return psycopg.connect(**params, **kwargs)


# Extensions only a superuser may create, which hold no data: a restore run as the owner role leaves them
# out (bin/setup-postgres creates them), rather than failing on them.
SUPERUSER_EXTENSIONS = ("pg_stat_statements",)


def pg_restore_list(dump: Path, env: dict) -> Path:
    """
    pg_restore's table of contents for `dump`, less the superuser-only extensions, written beside it for
    --use-list.
    """
    listing = run([pg_program("pg_restore"), "--list", str(dump)], env=env, what="pg_restore --list")
    kept = [
        line
        for line in listing.splitlines()
        if not any(f" EXTENSION - {name} " in line for name in SUPERUSER_EXTENSIONS)
        and not any(f" EXTENSION {name} " in line for name in SUPERUSER_EXTENSIONS)
    ]
    path = dump.with_name(dump.name + ".toc")
    path.write_text("\n".join(kept) + "\n")
    return path


# How a row is hashed for its table's checksum: hash_record_extended (PostgreSQL 14+) is faster than
# hashing the row's text form (docs/performance.md), which a table with a column type that has no hash
# function (json, point) falls back to. The manifest records each table's method, for verification.
PG_ROW_HASHES = {
    "record": "hash_record_extended(t, 0)",
    "text": "hashtextextended(t::text, 0)",
}


def pg_table_stats(cursor, methods: dict | None = None, tables: list[str] | None = None) -> dict:
    """
    Every table's row count and checksum, in the cursor's transaction. The checksum is the sum of a
    64-bit hash of each row: independent of row order, so a restore that loaded the rows in another
    physical order still matches. The session is pinned to UTC and exact float output, so that the text
    form, where it is used, does not depend on the server's defaults. `methods` (table -> method) makes
    verification use the manifest's methods; `tables` limits the work to those tables.
    """
    import psycopg

    cursor.execute("SET LOCAL TIME ZONE 'UTC'")
    cursor.execute("SET LOCAL extra_float_digits = 3")
    cursor.execute("SELECT current_setting('server_version_num')::int >= 140000")
    default = "record" if cursor.fetchone()[0] else "text"
    if tables is None:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
        tables = [row[0] for row in cursor.fetchall()]
    stats = {}
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        method = (methods or {}).get(table, default)
        # Table names come from the catalogue, quoted: nothing here is user input.
        query = f"SELECT count(*), coalesce(sum({PG_ROW_HASHES[method]}), 0) FROM {quoted} AS t"  # noqa: S608
        if method == "record" and not methods:
            cursor.execute("SAVEPOINT row_hash")
            try:
                cursor.execute(query)
                rows, checksum = cursor.fetchone()
                cursor.execute("RELEASE SAVEPOINT row_hash")
            except psycopg.errors.UndefinedFunction:  # a column type without a hash function
                cursor.execute("ROLLBACK TO SAVEPOINT row_hash")
                method = "text"
                cursor.execute(query.replace(PG_ROW_HASHES["record"], PG_ROW_HASHES["text"]))
                rows, checksum = cursor.fetchone()
        else:
            cursor.execute(query)
            rows, checksum = cursor.fetchone()
        stats[table] = {"rows": int(rows), "checksum": str(checksum), "hash": method}
    return stats


def pg_migrations(cursor) -> list[str]:
    cursor.execute("SELECT to_regclass('django_migrations') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return []
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    return [f"{app}.{name}" for app, name in cursor.fetchall()]


def checked_plain(local: Path, *, sha256: str, size: int, key: str, plain: Path, what: str) -> Path:
    """
    `local` after its bytes matched `sha256` and `size`, decrypted to `plain` when `key` is set (every
    chunk authenticated): the one check every stored backup file passes before it is read.
    """
    digest, found = filecrypt.file_sha256(local)
    if (digest, found) != (sha256, size):
        raise BackupError(
            f"{what} does not match its manifest (sha256 {digest[:16]}..., {found} bytes; expected "
            f"{sha256[:16]}..., {size} bytes): it is corrupt or was altered."
        )
    if not key:
        return local
    with open(local, "rb") as source, open(plain, "wb") as out:
        try:
            filecrypt.decrypt_stream(source, out, key)
        except filecrypt.BackupFileError as error:
            raise BackupError(f"{what} does not decrypt: {error}.") from error
    return plain


def run(command: list[str], *, env: dict, what: str) -> str:
    """Runs a client program; its output, or BackupError with the end of what it printed on stderr."""
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}): {tail(result.stderr)}")
    return result.stdout


def tail(text: str, lines: int = 8) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-lines:]) or "no message"


def pump(source, sink, errors: list) -> None:
    try:
        while block := source.read(filecrypt.CHUNK):
            sink.write(block)
    except BaseException as error:  # noqa: BLE001 -- reported by the thread that waits for this one
        errors.append(error)


def dumped(server_version: str, tables: dict, migrations: list, hashing, replay_from: datetime) -> dict:
    """What either engine's dump tells the manifest."""
    return {
        erasure_boundary.MANIFEST_KEY: replay_from.isoformat(),
        "server_version": server_version,
        "tables": tables,
        "migrations": migrations,
        "sha256": hashing.sha256.hexdigest(),
        "size": hashing.size,
    }


def pg_dump(alias: str, target: Path, secret: str) -> dict:
    import psycopg

    params = pg_params(alias)
    with pg_connect(params) as snapshot_conn:
        # Read before the snapshot exists: see ops/erasure_boundary.py.
        replay_from = erasure_boundary.pg_replay_from(snapshot_conn)
        snapshot_conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        snapshot_conn.read_only = True
        with snapshot_conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
            command = [pg_program("pg_dump"), "--format=custom", f"--snapshot={snapshot}", "--no-password"]
            with open(target, "wb") as out, tempfile.TemporaryFile() as stderr:
                hashing = filecrypt.HashingWriter(out)
                sink = filecrypt.EncryptingWriter(hashing, secret) if secret else hashing
                process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=pg_env(params))
                errors: list = []
                # pg_dump streams while this connection counts the same snapshot: the two overlap.
                pumping = threading.Thread(target=pump, args=(process.stdout, sink, errors), daemon=True)
                pumping.start()
                try:
                    tables = pg_table_stats(cursor)
                    migrations = pg_migrations(cursor)
                finally:
                    pumping.join()
                    returncode = process.wait()
                if returncode != 0:
                    stderr.seek(0)
                    raise BackupError(f"pg_dump failed (exit {returncode}): {tail(stderr.read().decode())}")
                if errors:
                    raise BackupError(f"writing the dump failed: {errors[0]}")
                if secret:
                    sink.close()
        snapshot_conn.rollback()
    return dumped(server_version, tables, migrations, hashing, replay_from)


# --- SQLite plumbing --------------------------------------------------------------------------------


def sqlite_table_stats(conn: sqlite3.Connection) -> dict:
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    stats = {}
    for table in tables:
        count, total = 0, 0
        quoted = '"' + table.replace('"', '""') + '"'
        for row in conn.execute(f"SELECT * FROM {quoted}"):  # noqa: S608 -- a name from sqlite_master
            digest = hashlib.blake2b(repr(row).encode(), digest_size=8).digest()
            total = (total + int.from_bytes(digest, "big")) % (1 << 64)
            count += 1
        stats[table] = {"rows": count, "checksum": str(total)}
    return stats


def sqlite_migrations(conn: sqlite3.Connection) -> list[str]:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'django_migrations'")
    if exists.fetchone() is None:
        return []
    return [
        f"{app}.{name}" for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY 1, 2")
    ]


def sqlite_dump(alias: str, folder: Path, target: Path, secret: str) -> dict:
    """A consistent copy through the sqlite3 backup API (readers and writers may go on meanwhile)."""
    copy = folder / "copy.sqlite3"
    replay_from = erasure_boundary.sqlite_replay_from(timezone.now())
    connection = connections[alias]
    connection.ensure_connection()
    with sqlite3.connect(copy) as destination:
        connection.connection.backup(destination)
    destination.close()
    with sqlite3.connect(copy) as conn:
        tables = sqlite_table_stats(conn)
        migrations = sqlite_migrations(conn)
        server_version = sqlite3.sqlite_version
    conn.close()
    with open(copy, "rb") as source, open(target, "wb") as out:
        hashing = filecrypt.HashingWriter(out)
        sink = filecrypt.EncryptingWriter(hashing, secret) if secret else hashing
        while block := source.read(filecrypt.CHUNK):
            sink.write(block)
        if secret:
            sink.close()
    return dumped(server_version, tables, migrations, hashing, replay_from)
