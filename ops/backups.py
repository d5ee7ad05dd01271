"""
Database backups that are proven by restoring them (docs/backups.md is the operator's runbook).

A backup is two files in STORAGES["backups"]: the dump (pg_dump's custom format on PostgreSQL, a copy
made with the sqlite3 backup API on SQLite), optionally encrypted (ops/backup_files.py), and beside it
`<name>.manifest.json`, which says what a faithful restore must give back: the migration state and, for
every table, its row count and an order-independent checksum of its rows. The BackupRecord row is an
index for the admin, readiness and pruning; the manifest is the truth, because at 3 a.m. the database
that held the records may be the thing that is gone (`backup_records_sync` rebuilds them from storage,
with the verdicts that verification leaves beside each backup: ops/backup_verdicts.py).

On PostgreSQL the manifest and the dump describe the same moment: the row counts are read in a
REPEATABLE READ transaction whose snapshot pg_dump is given with --snapshot, while pg_dump runs.
"""

# The client programs run with fixed arguments and libpq's environment; nothing comes from a request.
# ruff: noqa: S603
import contextlib
import hashlib
import json
import logging
import os
import random
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.services import audit_record
from common.caching import content_version_bump

from . import backup_files, backup_verdicts, erasure_boundary
from .models import BackupRecord, BackupTier, VerifyStatus
from .selectors import backup_newest_verified

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
MANIFEST_SUFFIX = ".manifest.json"
EXTENSIONS = {"postgresql": "pgdump", "sqlite": "sqlite3"}
# `verify_backup --random` picks among the backups of this many days, unverified ones first.
RANDOM_RECENT_DAYS = 7


class BackupError(Exception):
    """A backup, verification or restore cannot go on; the message says what the operator must do."""


class BackupSetupError(BackupError):
    """Something about this machine, not the backup, is wrong (a key, a program): no verdict is recorded."""


def _storage():
    return storages["backups"]


def _vendor(alias: str = "default") -> str:
    return connections[alias].vendor


def _tmpdir():
    return tempfile.TemporaryDirectory(prefix="indivillage-backup-", dir=settings.BACKUP_TMP_DIR or None)


# --- PostgreSQL plumbing ----------------------------------------------------------------------------


def _pg_program(name: str) -> str:
    folder = settings.PG_BIN_DIR
    path = os.path.join(folder, name) if folder else shutil.which(name)
    if not path or not os.path.exists(path):
        raise BackupSetupError(
            f"{name} was not found: install the PostgreSQL client programs (Debian: postgresql-client, "
            "the same major version as the server) or set PG_BIN_DIR."
        )
    return path


def _pg_params(alias: str = "default", *, dbname: str | None = None) -> dict:
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


def _pg_env(params: dict) -> dict:
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


def _pg_connect(params: dict, **kwargs):
    import psycopg

    return psycopg.connect(**params, **kwargs)


# How a row is hashed for its table's checksum. hash_record_extended (PostgreSQL 14+) hashes each column
# with its type's own hash function, about three times faster than hashing the row's text form; a table
# with a column type that has no hash function (json, point) falls back to the text form. The manifest
# records the method of each table, so that verification hashes the restored rows the same way.
_PG_ROW_HASHES = {
    "record": "hash_record_extended(t, 0)",
    "text": "hashtextextended(t::text, 0)",
}


def _pg_table_stats(cursor, methods: dict | None = None, tables: list[str] | None = None) -> dict:
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
        query = f"SELECT count(*), coalesce(sum({_PG_ROW_HASHES[method]}), 0) FROM {quoted} AS t"  # noqa: S608
        if method == "record" and not methods:
            cursor.execute("SAVEPOINT row_hash")
            try:
                cursor.execute(query)
                rows, checksum = cursor.fetchone()
                cursor.execute("RELEASE SAVEPOINT row_hash")
            except psycopg.errors.UndefinedFunction:  # a column type without a hash function
                cursor.execute("ROLLBACK TO SAVEPOINT row_hash")
                method = "text"
                cursor.execute(query.replace(_PG_ROW_HASHES["record"], _PG_ROW_HASHES["text"]))
                rows, checksum = cursor.fetchone()
        else:
            cursor.execute(query)
            rows, checksum = cursor.fetchone()
        stats[table] = {"rows": int(rows), "checksum": str(checksum), "hash": method}
    return stats


def _pg_migrations(cursor) -> list[str]:
    cursor.execute("SELECT to_regclass('django_migrations') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return []
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    return [f"{app}.{name}" for app, name in cursor.fetchall()]


def _run(command: list[str], *, env: dict, what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}): {_tail(result.stderr)}")


def _tail(text: str, lines: int = 8) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-lines:]) or "no message"


def _pump(source, sink, errors: list) -> None:
    try:
        while block := source.read(backup_files.CHUNK):
            sink.write(block)
    except BaseException as error:  # noqa: BLE001 -- reported by the thread that waits for this one
        errors.append(error)


def _dumped(server_version: str, tables: dict, migrations: list, hashing, replay_from: datetime) -> dict:
    """What either engine's dump tells the manifest."""
    return {
        erasure_boundary.MANIFEST_KEY: replay_from.isoformat(),
        "server_version": server_version,
        "tables": tables,
        "migrations": migrations,
        "sha256": hashing.sha256.hexdigest(),
        "size": hashing.size,
    }


def _pg_dump(alias: str, target: Path, secret: str) -> dict:
    import psycopg

    params = _pg_params(alias)
    with _pg_connect(params) as snapshot_conn:
        # Read before the snapshot exists: see ops/erasure_boundary.py.
        replay_from = erasure_boundary.pg_replay_from(snapshot_conn)
        snapshot_conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        snapshot_conn.read_only = True
        with snapshot_conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
            command = [_pg_program("pg_dump"), "--format=custom", f"--snapshot={snapshot}", "--no-password"]
            with open(target, "wb") as out, tempfile.TemporaryFile() as stderr:
                hashing = backup_files.HashingWriter(out)
                sink = backup_files.EncryptingWriter(hashing, secret) if secret else hashing
                process = subprocess.Popen(
                    command, stdout=subprocess.PIPE, stderr=stderr, env=_pg_env(params)
                )
                errors: list = []
                # pg_dump streams while this connection counts the same snapshot: the two overlap.
                pump = threading.Thread(target=_pump, args=(process.stdout, sink, errors), daemon=True)
                pump.start()
                try:
                    tables = _pg_table_stats(cursor)
                    migrations = _pg_migrations(cursor)
                finally:
                    pump.join()
                    returncode = process.wait()
                if returncode != 0:
                    stderr.seek(0)
                    raise BackupError(f"pg_dump failed (exit {returncode}): {_tail(stderr.read().decode())}")
                if errors:
                    raise BackupError(f"writing the dump failed: {errors[0]}")
                if secret:
                    sink.close()
        snapshot_conn.rollback()
    return _dumped(server_version, tables, migrations, hashing, replay_from)


# --- SQLite plumbing --------------------------------------------------------------------------------


def _sqlite_table_stats(conn: sqlite3.Connection) -> dict:
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


def _sqlite_migrations(conn: sqlite3.Connection) -> list[str]:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'django_migrations'")
    if exists.fetchone() is None:
        return []
    return [
        f"{app}.{name}" for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY 1, 2")
    ]


def _sqlite_dump(alias: str, folder: Path, target: Path, secret: str) -> dict:
    """A consistent copy through the sqlite3 backup API (readers and writers may go on meanwhile)."""
    copy = folder / "copy.sqlite3"
    replay_from = erasure_boundary.sqlite_replay_from(timezone.now())
    connection = connections[alias]
    connection.ensure_connection()
    with sqlite3.connect(copy) as destination:
        connection.connection.backup(destination)
    destination.close()
    with sqlite3.connect(copy) as conn:
        tables = _sqlite_table_stats(conn)
        migrations = _sqlite_migrations(conn)
        server_version = sqlite3.sqlite_version
    conn.close()
    with open(copy, "rb") as source, open(target, "wb") as out:
        hashing = backup_files.HashingWriter(out)
        sink = backup_files.EncryptingWriter(hashing, secret) if secret else hashing
        while block := source.read(backup_files.CHUNK):
            sink.write(block)
        if secret:
            sink.close()
    return _dumped(server_version, tables, migrations, hashing, replay_from)


# --- Creating ---------------------------------------------------------------------------------------


def _backup_name(tier: str, vendor: str, encrypted: bool, moment: datetime, label: str = "") -> str:
    parts = ["indivillage", moment.strftime("%Y%m%dT%H%M%SZ"), tier]
    if label:
        parts.append(label)
    parts.append(secrets.token_hex(3))
    return "-".join(parts) + "." + EXTENSIONS[vendor] + (".enc" if encrypted else "")


def manifest_name(name: str) -> str:
    return name + MANIFEST_SUFFIX


def backup_create(*, tier: str, label: str = "", actor=None, alias: str = "default") -> BackupRecord:
    """Dumps the database, stores the dump and its manifest, records and audits it."""
    if tier not in BackupTier.values:
        raise BackupError(f"unknown tier {tier!r}: use one of {', '.join(BackupTier.values)}.")
    vendor = _vendor(alias)
    if vendor not in EXTENSIONS:
        raise BackupError(f"backups support PostgreSQL and SQLite, not {vendor}.")
    secret = settings.BACKUP_ENCRYPTION_KEY
    started = timezone.now()
    clock = time.monotonic()
    name = _backup_name(tier, vendor, bool(secret), started, label)
    storage = _storage()
    with _tmpdir() as folder:
        target = Path(folder) / "backup"
        if vendor == "postgresql":
            dumped = _pg_dump(alias, target, secret)
        else:
            dumped = _sqlite_dump(alias, Path(folder), target, secret)
        manifest = {
            "format": MANIFEST_FORMAT,
            "name": name,
            "tier": tier,
            "engine": vendor,
            "server_version": dumped["server_version"],
            "app_version": settings.APP_VERSION,
            "created_at": started.isoformat(),
            erasure_boundary.MANIFEST_KEY: dumped[erasure_boundary.MANIFEST_KEY],
            "sha256": dumped["sha256"],
            "size": dumped["size"],
            "encrypted": bool(secret),
            "key_fingerprint": backup_files.key_fingerprint(secret) if secret else "",
            "migrations": dumped["migrations"],
            "tables": dumped["tables"],
        }
        saved: list[str] = []
        try:
            with open(target, "rb") as handle:
                saved.append(storage.save(name, File(handle, name=name)))
            if saved[0] != name:  # a storage that renames on collision: keep the manifest beside it
                manifest["name"] = name = saved[0]
            manifest_body = ContentFile(json.dumps(manifest, indent=1, sort_keys=True).encode())
            saved.append(storage.save(manifest_name(name), manifest_body))
            seconds = round(time.monotonic() - clock, 3)
            with transaction.atomic():
                record = _record_create(manifest)
                audit_record(
                    action="backup.created",
                    entity=record,
                    actor=actor,
                    changes={
                        "name": name,
                        "tier": tier,
                        "size": manifest["size"],
                        "sha256": manifest["sha256"],
                        "tables": len(manifest["tables"]),
                        "rows": sum(table["rows"] for table in manifest["tables"].values()),
                        "seconds": seconds,
                    },
                )
        except BaseException:
            # The database or the storage went away half-way: a file without its record and audit row
            # is a backup nobody knows of, so none is left behind (best effort: the storage may be gone).
            for stored in saved:
                with contextlib.suppress(Exception):
                    storage.delete(stored)
            raise
    logger.info("backup %s written: %s bytes in %.1f s", name, manifest["size"], seconds)
    return record


# --- Finding backups --------------------------------------------------------------------------------


def manifest_load(name: str) -> dict:
    """The manifest stored beside the backup (the record's copy when the file is gone)."""
    storage = _storage()
    sidecar = manifest_name(name)
    if storage.exists(sidecar):
        with storage.open(sidecar, "rb") as handle:
            try:
                return json.loads(handle.read())
            except ValueError as error:
                raise BackupError(f"the manifest {sidecar} is not valid JSON: {error}") from error
    record = BackupRecord.objects.filter(name=name).first()
    if record is not None and record.manifest:
        return record.manifest
    raise BackupError(f"no backup named {name!r}: `manage.py backup_db --list` shows the backups in storage.")


def _record_create(manifest: dict) -> BackupRecord:
    """The BackupRecord a manifest describes, dated when the backup was taken (for a new backup and for
    one found in storage alike)."""
    return BackupRecord.objects.create(
        name=manifest["name"],
        tier=manifest.get("tier", BackupTier.MANUAL),
        engine=manifest.get("engine", ""),
        size=manifest.get("size", 0),
        sha256=manifest.get("sha256", ""),
        encrypted=manifest.get("encrypted", False),
        manifest=manifest,
        created_at=parse_datetime(manifest.get("created_at", "")) or timezone.now(),
    )


def backup_records_sync() -> list[BackupRecord]:
    """
    Creates the missing BackupRecords from the manifests in storage, and gives every record the
    verification verdict stored beside its backup when that is newer than its own: after a restore
    (which brings back the records of its own time) and on a new machine pointed at old backups.
    """
    storage = _storage()
    try:
        _, files = storage.listdir("")
    except FileNotFoundError:  # a local folder that no backup has created yet
        files = []
    files = set(files)
    known = {record.name: record for record in BackupRecord.objects.all()}
    created = []
    for sidecar in sorted(files):
        if not sidecar.endswith(MANIFEST_SUFFIX):
            continue
        name = sidecar[: -len(MANIFEST_SUFFIX)]
        if name not in files:
            continue
        record = known.get(name)
        if record is None:
            # Named by its file: the manifest travels with it, but the file is what a restore reads.
            record = _record_create({**manifest_load(name), "name": name})
            created.append(record)
        if backup_verdicts.verdict_name(name) in files:
            # A verdict reached after the database's copy of this record was taken (a restore).
            backup_verdicts.verdict_apply(record, backup_verdicts.verdict_load(name))
    return created


def backup_pick(*, name: str = "", latest: bool = False, pick_random: bool = False) -> str:
    """The backup that `verify_backup` and `restore_db` are asked for, by name, newest or at random."""
    if name:
        return name
    records = BackupRecord.objects.order_by("-created_at")
    if latest:
        record = records.first()
        if record is None:
            raise BackupError("there is no backup yet: run `manage.py backup_db --tier manual` first.")
        return record.name
    if pick_random:
        recent = list(records.filter(created_at__gte=timezone.now() - timedelta(days=RANDOM_RECENT_DAYS)))
        if not recent:
            raise BackupError(f"there is no backup from the last {RANDOM_RECENT_DAYS} days to verify.")
        unverified = [record for record in recent if record.verify_status == VerifyStatus.UNVERIFIED]
        return random.choice(unverified or recent).name  # noqa: S311 -- a sample, not a secret
    raise BackupError("name a backup, or say --latest or --random.")


# --- Fetching and checking the file -----------------------------------------------------------------


def _fetch_checked(name: str, manifest: dict, folder: Path) -> Path:
    """
    A local path to the plaintext dump, after the stored bytes matched the manifest's sha256 and size
    and, when encrypted, every chunk authenticated. Reads a local storage in place; anything else
    (S3) is downloaded to `folder` first.
    """
    storage = _storage()
    if not storage.exists(name):
        raise BackupError(f"the backup file {name} is missing from storage.")
    try:
        local = Path(storage.path(name))
    except NotImplementedError:
        local = folder / "download"
        with storage.open(name, "rb") as source, open(local, "wb") as out:
            shutil.copyfileobj(source, out, backup_files.CHUNK)
    digest, size = backup_files.file_sha256(local)
    if size != manifest["size"] or digest != manifest["sha256"]:
        raise BackupError(
            f"the file does not match its manifest (sha256 {digest[:16]}..., {size} bytes; expected "
            f"{manifest['sha256'][:16]}..., {manifest['size']} bytes): it is corrupt or was altered."
        )
    if not manifest.get("encrypted"):
        return local
    secret = _key_for(manifest)
    plain = folder / "plain"
    with open(local, "rb") as source, open(plain, "wb") as out:
        try:
            backup_files.decrypt_stream(source, out, secret)
        except backup_files.BackupFileError as error:
            raise BackupError(f"the backup does not decrypt: {error}.") from error
    return plain


def _key_for(manifest: dict) -> str:
    """The key an encrypted backup was made with: the current one or one of BACKUP_ENCRYPTION_OLD_KEYS."""
    keys = [key for key in [settings.BACKUP_ENCRYPTION_KEY, *settings.BACKUP_ENCRYPTION_OLD_KEYS] if key]
    if not keys:
        raise BackupSetupError(
            "the backup is encrypted: set BACKUP_ENCRYPTION_KEY to the key it was made with."
        )
    wanted = manifest.get("key_fingerprint")
    for key in keys:
        if not wanted or backup_files.key_fingerprint(key) == wanted:
            return key
    raise BackupSetupError(
        "neither BACKUP_ENCRYPTION_KEY nor BACKUP_ENCRYPTION_OLD_KEYS is the key this backup was made with "
        f"(its key fingerprint is {wanted})."
    )


def _compare(expected: dict, found: dict) -> list[str]:
    problems = []
    for table in sorted(set(expected) | set(found)):
        if table not in found:
            problems.append(f"{table}: missing after the restore")
        elif table not in expected:
            problems.append(f"{table}: present after the restore but not in the manifest")
        elif found[table]["rows"] != expected[table]["rows"]:
            problems.append(
                f"{table}: {found[table]['rows']} rows, the manifest says {expected[table]['rows']}"
            )
        elif found[table]["checksum"] != expected[table]["checksum"]:
            problems.append(f"{table}: {found[table]['rows']} rows as expected, but their checksum differs")
    return problems


# --- Verifying --------------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    name: str
    ok: bool
    tables: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    scratch: str = ""


def _pg_stats_parallel(params: dict, methods: dict, workers: int = 2) -> dict:
    """
    The scratch database's tables, counted and checksummed over `workers` connections at once (nothing
    else writes there, so no shared snapshot is needed): the largest tables are dealt out in turn.
    """
    from concurrent.futures import ThreadPoolExecutor

    with _pg_connect(params, autocommit=True) as conn:
        sized = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " ORDER BY pg_total_relation_size(format('%I', tablename)::regclass) DESC, tablename"
        ).fetchall()
    shares = [[row[0] for row in sized[start::workers]] for start in range(workers)]

    def count(tables):
        with _pg_connect(params) as conn, conn.cursor() as cursor:
            found = _pg_table_stats(cursor, methods, tables)
            conn.rollback()
        return found

    stats = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for found in pool.map(count, [share for share in shares if share]):
            stats.update(found)
    return dict(sorted(stats.items()))


def _scratch_restore_pg(alias: str, dump: Path, methods: dict) -> tuple[str, dict]:
    """Restores into a new scratch database, reads its tables, drops it whatever happens."""
    scratch = f"indivillage_verify_{secrets.token_hex(4)}"
    admin = _pg_params(alias, dbname="postgres")
    with _pg_connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE \"{scratch}\" TEMPLATE template0 ENCODING 'UTF8'")
    try:
        target = _pg_params(alias, dbname=scratch)
        _run(
            [
                _pg_program("pg_restore"),
                "--exit-on-error",
                "--single-transaction",
                "--no-owner",
                "--no-privileges",
                "--no-password",
                f"--dbname={scratch}",
                str(dump),
            ],
            env=_pg_env(target),
            what="pg_restore into the scratch database",
        )
        stats = _pg_stats_parallel(target, methods)
    finally:
        with _pg_connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    return scratch, stats


def _scratch_check_sqlite(dump: Path, folder: Path) -> tuple[str, dict]:
    copy = folder / "scratch.sqlite3"
    shutil.copyfile(dump, copy)
    conn = sqlite3.connect(copy)
    try:
        verdict = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if verdict != ["ok"]:
            raise BackupError("PRAGMA integrity_check: " + "; ".join(verdict[:5]))
        return str(copy.name), _sqlite_table_stats(conn)
    except sqlite3.DatabaseError as error:
        raise BackupError(f"the copy is not a readable SQLite database: {error}") from error
    finally:
        conn.close()


def backup_verify(name: str, *, alias: str = "default", actor=None) -> VerifyResult:
    """
    Proves a backup by restoring it: sha256 and size, decryption, a restore into a scratch database
    (dropped afterwards), then every table's row count and checksum against the manifest. The verdict
    is recorded on the BackupRecord (created from the manifest if missing) and audited.
    """
    clock = time.monotonic()
    manifest = manifest_load(name)
    result = VerifyResult(name=name, ok=False)
    vendor = _vendor(alias)
    if manifest.get("engine") != vendor:
        raise BackupError(
            f"{name} is a {manifest.get('engine')} backup; verifying it needs a {manifest.get('engine')} "
            f"database configured, and this one is {vendor}."
        )
    try:
        with _tmpdir() as folder:
            dump = _fetch_checked(name, manifest, Path(folder))
            if vendor == "postgresql":
                methods = {table: entry.get("hash", "text") for table, entry in manifest["tables"].items()}
                result.scratch, found = _scratch_restore_pg(alias, dump, methods)
            else:
                result.scratch, found = _scratch_check_sqlite(dump, Path(folder))
        result.problems = _compare(manifest["tables"], found)
        result.tables = len(found)
        result.rows = sum(table["rows"] for table in found.values())
    except BackupSetupError:
        raise
    except BackupError as error:
        result.problems = [str(error)]
    result.ok = not result.problems
    result.seconds = round(time.monotonic() - clock, 3)

    record = BackupRecord.objects.filter(name=name).first()
    if record is None:
        backup_records_sync()
        record = BackupRecord.objects.filter(name=name).first()
    details = {
        "tables": result.tables,
        "rows": result.rows,
        "problems": result.problems,
        "seconds": result.seconds,
    }
    if record is not None:
        record.verified_at = timezone.now()
        record.verify_status = VerifyStatus.PASSED if result.ok else VerifyStatus.FAILED
        record.verify_details = details
        record.save(update_fields=["verified_at", "verify_status", "verify_details", "updated_at"])
        backup_verdicts.verdict_save(record)
    audit_record(
        action="backup.verified" if result.ok else "backup.verify_failed",
        entity=record,
        entity_type="" if record else "ops.backuprecord",
        entity_id="" if record else name,
        actor=actor,
        changes={"name": name, **details},
    )
    if not result.ok:
        logger.error("backup %s failed verification: %s", name, "; ".join(result.problems))
    return result


# --- Pruning ----------------------------------------------------------------------------------------


def backup_verify_random() -> VerifyResult:
    """The weekly proof that an older backup still restores: one of the last RANDOM_RECENT_DAYS at random."""
    return backup_verify(backup_pick(pick_random=True))


@dataclass
class PruneResult:
    deleted: list[str] = field(default_factory=list)
    kept_newest_verified: str = ""


def backups_prune(*, dry_run: bool = False, now: datetime | None = None, actor=None) -> PruneResult:
    """
    Deletes hourly and daily backups past their tier's age (settings.BACKUP_KEEP); manual backups stay.
    The newest backup that passed verification is never deleted, however old: it may be the only one
    known to restore.
    """
    now = now or timezone.now()
    result = PruneResult()
    newest_verified = backup_newest_verified()
    if newest_verified is not None:
        result.kept_newest_verified = newest_verified.name
    storage = _storage()
    for tier, keep in settings.BACKUP_KEEP.items():
        expired = BackupRecord.objects.filter(tier=tier, created_at__lt=now - keep).order_by("created_at")
        if newest_verified is not None:
            expired = expired.exclude(pk=newest_verified.pk)
        for record in expired:
            result.deleted.append(record.name)
            if dry_run:
                continue
            # The file first: a record without a file is reported by verification, a file without a
            # record would be forgotten.
            storage.delete(record.name)
            storage.delete(manifest_name(record.name))
            storage.delete(backup_verdicts.verdict_name(record.name))
            record.delete()
    if result.deleted and not dry_run:
        audit_record(
            action="backup.pruned",
            entity_type="ops.backuprecord",
            actor=actor,
            changes={"deleted": result.deleted, "kept_newest_verified": result.kept_newest_verified},
        )
    return result


# --- Restoring --------------------------------------------------------------------------------------


def known_migrations() -> set[str]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {f"{app}.{name}" for app, name in loader.disk_migrations}


@dataclass
class RestorePlan:
    name: str
    manifest: dict
    missing_migrations: list[str]


def restore_plan(name: str, *, alias: str = "default") -> RestorePlan:
    """What a restore of `name` would do, or why it must not: checked before anything is touched."""
    manifest = manifest_load(name)
    vendor = _vendor(alias)
    if manifest.get("engine") != vendor:
        raise BackupError(
            f"{name} is a {manifest.get('engine')} backup and this database is {vendor}: restore it into "
            f"a {manifest.get('engine')} database."
        )
    known = known_migrations()
    taken = set(manifest.get("migrations", []))
    unknown = sorted(taken - known)
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise BackupError(
            f"{name} was taken by a newer version of the code (app version {manifest.get('app_version')}): "
            f"it has migrations this code does not know ({shown}). Restore it with that version, not this one."
        )
    return RestorePlan(
        name=name,
        manifest=manifest,
        missing_migrations=sorted(known - taken),
    )


@dataclass
class RestoreResult:
    name: str
    safety_backup: str = ""
    migrated: list[str] = field(default_factory=list)
    erasures_replayed: int = 0
    users_erased: int = 0
    seconds: float = 0.0


def _close_connections(alias: str) -> None:
    connection = connections[alias]
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()


def _restore_pg(alias: str, dump: Path) -> None:
    """
    Replaces the schema in one transaction: psql -1 runs the DROP, the CREATE and pg_restore's SQL
    together, so any error leaves the database exactly as it was. lock_timeout turns a web or worker
    process still holding a table into a clear failure instead of a wait without end.
    """
    params = _pg_params(alias)
    env = _pg_env(params)
    restore = subprocess.Popen(
        [_pg_program("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(dump)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    psql = subprocess.run(
        [
            _pg_program("psql"),
            "--no-psqlrc",
            "--quiet",
            "--no-password",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            "--command=SET lock_timeout = '15s'",
            "--command=DROP SCHEMA public CASCADE",
            "--command=CREATE SCHEMA public",
            "--file=-",
        ],
        stdin=restore.stdout,
        capture_output=True,
        text=True,
        env=env,
    )
    restore.stdout.close()
    restore_err = restore.stderr.read().decode()
    restore.wait()
    if restore.returncode != 0:
        raise BackupError(
            f"pg_restore could not read the dump (exit {restore.returncode}): {_tail(restore_err)}"
        )
    if psql.returncode != 0:
        hint = ""
        if "lock timeout" in psql.stderr:
            hint = " Stop the web, worker and beat processes first: they hold the tables."
        raise BackupError(
            f"the restore failed and was rolled back, the database is unchanged: {_tail(psql.stderr)}.{hint}"
        )


def _restore_sqlite(alias: str, dump: Path, folder: Path) -> None:
    """
    The sqlite3 backup API copies the verified file over the live database in a single step, under its
    lock, through Django's own connection (so an in-memory test database works too).
    """
    _scratch_check_sqlite(dump, folder)
    connection = connections[alias]
    connection.ensure_connection()
    source = sqlite3.connect(dump)
    try:
        source.backup(connection.connection)
    finally:
        source.close()


def backup_restore(
    plan: RestorePlan, *, alias: str = "default", actor=None, safety_backup: bool = True, say=None
):
    """
    Restores a backup over the database: the file is checked first (sha256, decryption), then a safety
    backup of the current database is taken, then the restore runs in one transaction. Afterwards the
    schema is migrated forward if the backup is older than the code, the GDPR erasures made since the
    backup was taken are applied again, the backup records are rebuilt from storage, the public cache
    is retired, and the restore is audited.
    """
    say = say or (lambda message: None)
    clock = time.monotonic()
    result = RestoreResult(name=plan.name)
    manifest = plan.manifest
    with _tmpdir() as folder:
        say("Checking the file against its manifest...")
        dump = _fetch_checked(plan.name, manifest, Path(folder))
        if safety_backup:
            if _has_schema(alias):
                say("Taking a safety backup of the current database...")
                result.safety_backup = backup_create(
                    tier=BackupTier.MANUAL, label="pre-restore", actor=actor
                ).name
                say(f"  safety backup: {result.safety_backup}")
            else:
                say("The current database has no tables: no safety backup needed.")
        say(f"Restoring {plan.name} in one transaction...")
        _close_connections(alias)
        if manifest["engine"] == "postgresql":
            _restore_pg(alias, dump)
        else:
            _restore_sqlite(alias, dump, Path(folder))
        _close_connections(alias)

    try:
        _after_restore(plan, result, alias=alias, say=say)
    finally:
        # The swap has committed (in psql, or SQLite's backup API): the public pages and the ETags that
        # clients hold describe another database, even if a step after it failed. The version lives in
        # the cache, so the bump gives a number never issued before (common.caching).
        content_version_bump()
    result.seconds = round(time.monotonic() - clock, 3)
    audit_record(
        action="backup.restored",
        entity_type="ops.backuprecord",
        entity_id=plan.name,
        actor=actor,
        changes={
            "name": plan.name,
            "taken_at": manifest["created_at"],
            "safety_backup": result.safety_backup,
            "migrated": len(result.migrated),
            "erasures_replayed": result.erasures_replayed,
            "users_erased_again": result.users_erased,
            "seconds": result.seconds,
        },
    )
    return result


def _after_restore(plan: RestorePlan, result: RestoreResult, *, alias: str, say) -> None:
    """Migrates forward, replays the erasures made since the backup, and rebuilds the backup records."""
    from django.core.management import call_command

    from compliance.replay import erasures_replay

    if plan.missing_migrations:
        say(f"Migrating forward: {len(plan.missing_migrations)} migrations are newer than the backup...")
        call_command("migrate", database=alias, interactive=False, verbosity=0)
        result.migrated = plan.missing_migrations
    since = erasure_boundary.replay_since(plan.manifest)
    say(f"Replaying the GDPR erasures made since {since:%Y-%m-%d %H:%M:%S} UTC...")
    replay = erasures_replay(since=since)
    result.erasures_replayed = replay["erasures"]
    result.users_erased = replay["users_erased"]
    backup_records_sync()


def _has_schema(alias: str) -> bool:
    try:
        return "django_migrations" in connections[alias].introspection.table_names()
    finally:
        connections[alias].close()
