"""
A restore over the live database, after a safety backup, in one transaction; then the migrations the
backup predates, the erasures made since it was taken, and the public cache retired.
"""

# The client programs run with fixed arguments and libpq's environment; nothing comes from a request.
# ruff: noqa: S603
import logging
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from audit.services import audit_record
from common.caching import content_version_bump
from common.operations import extension_create_where_permitted
from compliance.replay import erasures_replay

from . import backup_engines as engines
from . import backup_media, backup_verification, backups, erasure_boundary
from .backup_engines import BackupError
from .models import BackupTier

logger = logging.getLogger(__name__)


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
    manifest = backups.manifest_load(name)
    vendor = engines.vendor(alias)
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
    files_written: int = 0
    files_removed: int = 0
    rows_without_files: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _close_connections(alias: str) -> None:
    connection = connections[alias]
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()


# Empties the schema and keeps who may use it: with the least-privilege roles (bin/setup-postgres), the
# application and read-only roles lose the schema, and so every table, if a new one is not granted to
# them again. Their table rights come back by the owner's default privileges as the tables are made.
SCHEMA_REPLACE_SQL = """
DO $$
DECLARE
    grantees text[];
    grantee text;
BEGIN
    SELECT array_agg(DISTINCT acl.grantee::regrole::text) INTO grantees
    FROM pg_namespace, aclexplode(nspacl) AS acl
    WHERE nspname = 'public' AND acl.privilege_type = 'USAGE' AND acl.grantee <> 0
        AND acl.grantee <> nspowner;
    DROP SCHEMA public CASCADE;
    CREATE SCHEMA public;
    FOREACH grantee IN ARRAY coalesce(grantees, '{}') LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %s', grantee);
    END LOOP;
END
$$
"""


def _restore_pg(alias: str, dump: Path) -> None:
    """
    Replaces the schema in one transaction: psql -1 runs the DROP, the CREATE and pg_restore's SQL
    together, so any error leaves the database exactly as it was. lock_timeout turns a web or worker
    process still holding a table into a clear failure instead of a wait without end.
    """
    params = engines.pg_params(alias)
    env = engines.pg_env(params)
    toc = engines.pg_restore_list(dump, env)
    restore = subprocess.Popen(
        [engines.pg_program("pg_restore"), "--no-owner", "--no-privileges", f"--use-list={toc}", "--file=-"]
        + [str(dump)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    psql = subprocess.run(
        [
            engines.pg_program("psql"),
            "--no-psqlrc",
            "--quiet",
            "--no-password",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            "--command=SET lock_timeout = '15s'",
            f"--command={SCHEMA_REPLACE_SQL}",
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
            f"pg_restore could not read the dump (exit {restore.returncode}): {engines.tail(restore_err)}"
        )
    if psql.returncode != 0:
        hint = ""
        if "lock timeout" in psql.stderr:
            hint = " Stop the web, worker and beat processes first: they hold the tables."
        raise BackupError(
            f"the restore failed and was rolled back, the database is unchanged: {engines.tail(psql.stderr)}.{hint}"
        )


def _restore_sqlite(alias: str, dump: Path, folder: Path) -> None:
    """
    The sqlite3 backup API copies the verified file over the live database in a single step, under its
    lock, through Django's own connection (so an in-memory test database works too).
    """
    backup_verification.scratch_check_sqlite(dump, folder)
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
    with engines.scratch_dir() as folder:
        say("Checking the file against its manifest...")
        dump = backups.fetch_checked(plan.name, manifest, Path(folder))
        files_tar = _files_checked(plan, Path(folder), say)
        if safety_backup:
            if _has_schema(alias):
                say("Taking a safety backup of the current database...")
                result.safety_backup = backups.backup_create(
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
        files_error = _restore_files(plan, result, files_tar, say)

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
            "files_written": result.files_written,
            "files_removed": result.files_removed,
            "files_error": str(files_error) if files_error else "",
            "seconds": result.seconds,
        },
    )
    if files_error is not None:
        raise BackupError(
            f"the database was restored (erasures replayed, audited), but the files were not all put back: "
            f"{files_error}. Fix the storage and run the restore again."
        )
    return result


def _files_checked(plan: RestorePlan, folder: Path, say) -> Path | None:
    """The backup's files, every one checked against the manifest before anything is replaced."""
    manifest = plan.manifest
    if "files" not in manifest:
        return None
    say(f"Checking its {manifest['files']['count']} files...")
    key = backups.key_for(manifest) if manifest.get("encrypted") else ""
    problems, _, tar = backup_media.files_check(plan.name, manifest, folder, key)
    if problems:
        raise BackupError("the files of the backup failed their check: " + "; ".join(problems[:5]))
    return tar


def _restore_files(plan: RestorePlan, result: RestoreResult, tar: Path | None, say) -> Exception | None:
    """
    The uploads and media the backup holds, put back to match the restored rows (ops.backup_media). Files
    the backup does not hold are removed only when the safety backup keeps a copy of them. An error is
    returned, not raised: the restored database still needs its erasures replayed and its audit row.
    """
    if tar is None:
        say("This backup holds no files (taken before backups did): the stored files stay as they are.")
        return None
    safety = backups.manifest_load(result.safety_backup) if result.safety_backup else {}
    remove_others = "files" in safety
    say(f"Restoring {plan.manifest['files']['count']} files (uploads, media)...")
    try:
        done = backup_media.files_restore(plan.manifest, tar, say, remove_others=remove_others)
    except (BackupError, OSError) as error:
        say(f"  the files failed: {error}")
        return error
    result.files_written, result.files_removed = done.written, done.removed
    say(f"  {done.written} files written, {done.removed} removed that the backup does not hold")
    if not remove_others:
        say("  files the backup does not hold were left in place: no safety backup holds a copy of them")
    return None


def _after_restore(plan: RestorePlan, result: RestoreResult, *, alias: str, say) -> None:
    """Migrates forward, replays the erasures made since the backup, and rebuilds the backup records."""
    if plan.manifest["engine"] == "postgresql":
        # Left out of the restore (ops.backup_engines.SUPERUSER_EXTENSIONS) and dropped with the schema.
        with connections[alias].cursor() as cursor:
            for name in engines.SUPERUSER_EXTENSIONS:
                if extension_create_where_permitted(cursor, name) == "not permitted":
                    say(
                        f"{name} is not created again: this role may not; run bin/setup-postgres as a superuser."
                    )
    if plan.missing_migrations:
        say(f"Migrating forward: {len(plan.missing_migrations)} migrations are newer than the backup...")
        call_command("migrate", database=alias, interactive=False, verbosity=0)
        result.migrated = plan.missing_migrations
    since = erasure_boundary.replay_since(plan.manifest)
    say(f"Replaying the GDPR erasures made since {since:%Y-%m-%d %H:%M:%S} UTC...")
    replay = erasures_replay(since=since)
    result.erasures_replayed = replay["erasures"]
    result.users_erased = replay["users_erased"]
    backups.backup_records_sync()
    result.rows_without_files = backup_media.rows_without_files()
    if result.rows_without_files:
        say("Rows whose file is missing: " + "; ".join(result.rows_without_files))


def _has_schema(alias: str) -> bool:
    try:
        return "django_migrations" in connections[alias].introspection.table_names()
    finally:
        connections[alias].close()
