"""A backup proven by restoring it into a scratch database and comparing every table with its manifest."""

# The client programs run with fixed arguments and libpq's environment; nothing comes from a request.
# ruff: noqa: S603
import logging
import secrets
import shutil
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone

from audit.services import audit_record

from . import backup_engines as engines
from . import backup_media, backup_verdicts, backups
from .backup_engines import BackupError, BackupSetupError
from .models import BackupRecord, VerifyStatus

logger = logging.getLogger(__name__)


# --- Verifying --------------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    name: str
    ok: bool
    tables: int = 0
    rows: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    scratch: str = ""


def _pg_stats_parallel(params: dict, methods: dict, workers: int = 2) -> dict:
    """
    The scratch database's tables, counted and checksummed over `workers` connections at once (nothing
    else writes there, so no shared snapshot is needed): the largest tables are dealt out in turn.
    """
    with engines.pg_connect(params, autocommit=True) as conn:
        sized = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " ORDER BY pg_total_relation_size(format('%I', tablename)::regclass) DESC, tablename"
        ).fetchall()
    shares = [[row[0] for row in sized[start::workers]] for start in range(workers)]

    def count(tables):
        with engines.pg_connect(params) as conn, conn.cursor() as cursor:
            found = engines.pg_table_stats(cursor, methods, tables)
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
    admin = engines.pg_params(alias, dbname="postgres")
    with engines.pg_connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE \"{scratch}\" TEMPLATE template0 ENCODING 'UTF8'")
    try:
        target = engines.pg_params(alias, dbname=scratch)
        engines.run(
            [
                engines.pg_program("pg_restore"),
                "--exit-on-error",
                "--single-transaction",
                "--no-owner",
                "--no-privileges",
                "--no-password",
                f"--use-list={engines.pg_restore_list(dump, engines.pg_env(target))}",
                f"--dbname={scratch}",
                str(dump),
            ],
            env=engines.pg_env(target),
            what="pg_restore into the scratch database",
        )
        stats = _pg_stats_parallel(target, methods)
    finally:
        with engines.pg_connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    return scratch, stats


def scratch_check_sqlite(dump: Path, folder: Path) -> tuple[str, dict]:
    copy = folder / "scratch.sqlite3"
    shutil.copyfile(dump, copy)
    conn = sqlite3.connect(copy)
    try:
        verdict = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if verdict != ["ok"]:
            raise BackupError("PRAGMA integrity_check: " + "; ".join(verdict[:5]))
        return str(copy.name), engines.sqlite_table_stats(conn)
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
    manifest = backups.manifest_load(name)
    result = VerifyResult(name=name, ok=False)
    vendor = engines.vendor(alias)
    if manifest.get("engine") != vendor:
        raise BackupError(
            f"{name} is a {manifest.get('engine')} backup; verifying it needs a {manifest.get('engine')} "
            f"database configured, and this one is {vendor}."
        )
    try:
        with engines.scratch_dir() as folder:
            dump = backups.fetch_checked(name, manifest, Path(folder))
            if vendor == "postgresql":
                methods = {table: entry.get("hash", "text") for table, entry in manifest["tables"].items()}
                result.scratch, found = _scratch_restore_pg(alias, dump, methods)
            else:
                result.scratch, found = scratch_check_sqlite(dump, Path(folder))
            result.problems = backups.compare(manifest["tables"], found)
            if "files" in manifest:
                key = backups.key_for(manifest) if manifest.get("encrypted") else ""
                file_problems, result.files, _ = backup_media.files_check(name, manifest, Path(folder), key)
                result.problems += file_problems
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
        backups.backup_records_sync()
        record = BackupRecord.objects.filter(name=name).first()
    details = {
        "tables": result.tables,
        "rows": result.rows,
        "files": result.files,
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


def backup_verify_random() -> VerifyResult:
    """The weekly proof that an older backup still restores: one of the last RANDOM_RECENT_DAYS at random."""
    return backup_verify(backups.backup_pick(pick_random=True))
