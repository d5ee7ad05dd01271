"""
What an operator watches beside the database's own statistics (ops.metrics): the sessions running now and
those running long, vacuum per table, the WAL archive's progress and the disk space the app writes to.
db_metrics and the admin page show them; /readyz warns on the last two (ops.health).
"""

import re
import shutil
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.db import DatabaseError, transaction

# Sessions of this database doing something, longest first; idle ones hold nothing and are left out.
_ACTIVE = """
    SELECT pid, usename AS "user", state, wait_event_type AS waiting_on,
           EXTRACT(EPOCH FROM now() - COALESCE(query_start, xact_start)) AS seconds,
           left(query, 500) AS query
    FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND state IS NOT NULL AND state <> 'idle' AND backend_type = 'client backend'
    ORDER BY seconds DESC NULLS LAST
    LIMIT %s
"""

# The tables with most dead rows: where autovacuum lags, and when it last ran.
_VACUUM = """
    SELECT relname AS "table", n_dead_tup AS dead_rows, n_live_tup AS live_rows,
           last_autovacuum, last_vacuum, last_autoanalyze
    FROM pg_stat_user_tables
    ORDER BY n_dead_tup DESC, relname
    LIMIT %s
"""


def rows_as_dicts(cursor, sql: str, params=()) -> list[dict]:
    """The rows of `sql` as dicts by column name (the metrics' queries read statistics views)."""
    cursor.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


# String literals in a statement's text: psycopg binds Django's parameters on the client, so the text of
# a running query holds the values themselves (addresses, hashes). The page shows the statement's shape.
_LITERAL = re.compile(r"'(?:[^']|'')*'")


def activity(cursor, limit: int) -> dict:
    """
    Active sessions (pid, user, state, duration, query with its string values replaced by '…') and
    those past DB_METRICS_SLOW_QUERY_SECONDS.
    """
    active = rows_as_dicts(cursor, _ACTIVE, [limit])
    for row in active:
        row["seconds"] = None if row["seconds"] is None else round(float(row["seconds"]), 1)
        row["query"] = _LITERAL.sub("'…'", row["query"] or "")
    threshold = settings.DB_METRICS_SLOW_QUERY_SECONDS
    return {
        "active": active,
        "slow_threshold_seconds": threshold,
        "slow": [row for row in active if row["seconds"] is not None and row["seconds"] > threshold],
    }


def vacuum(cursor, limit: int) -> list[dict]:
    rows = rows_as_dicts(cursor, _VACUUM, [limit])
    for row in rows:
        for key in ("last_autovacuum", "last_vacuum", "last_autoanalyze"):
            row[key] = iso(row[key])
    return rows


def wal_archive(connection) -> dict:
    """
    The WAL archive's progress (pg_stat_archiver): whether archiving is on, the last segment archived
    and the last failure, and the segments waiting (.ready files, read with pg_monitor's rights). It is
    failing when the last attempt failed; it lags when segments pile up waiting.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('archive_mode'), pg_is_in_recovery()")
        mode, in_recovery = cursor.fetchone()
        if mode == "off" or (in_recovery and mode != "always"):
            return {"mode": mode, "archiving": False}
        cursor.execute(
            "SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, "
            "last_failed_time, now() FROM pg_stat_archiver"
        )
        archived, last_wal, last_time, failed, failed_wal, failed_time, now = cursor.fetchone()
        waiting = None
        try:
            with transaction.atomic(using=connection.alias):
                cursor.execute(
                    "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE right(name, 6) = '.ready'"
                )
                waiting = cursor.fetchone()[0]
        except DatabaseError:
            pass  # without pg_monitor: the failure times still tell whether archiving works
    failing = failed_time is not None and (last_time is None or failed_time > last_time)
    return {
        "mode": mode,
        "archiving": True,
        "archived_count": archived,
        "last_archived_wal": last_wal,
        "last_archived_at": iso(last_time),
        "seconds_since_archived": None if last_time is None else round((now - last_time).total_seconds(), 1),
        "failed_count": failed,
        "last_failed_wal": failed_wal,
        "last_failed_at": iso(failed_time),
        "failing": failing,
        "segments_waiting": waiting,
    }


def wal_archive_problem(status: dict) -> str:
    """What is wrong with the archive in a sentence, or "" when nothing is."""
    if not status.get("archiving"):
        return ""
    if status["failing"]:
        return (
            f"archiving is failing: {status['last_failed_wal']} failed at {status['last_failed_at']} "
            f"({status['failed_count']} failures since the statistics reset); see the server's log"
        )
    waiting = status["segments_waiting"]
    if waiting is not None and waiting > settings.READINESS_WAL_READY_MAX:
        return f"{waiting} WAL segments wait to be archived (limit {settings.READINESS_WAL_READY_MAX})"
    return ""


def _storage_folders() -> dict[str, Path]:
    """The local folders the app writes to, by storage name (an S3 storage has none here)."""
    folders = {}
    for name in ("private", "backups", "public_media"):
        storage = storages[name]
        if isinstance(storage, FileSystemStorage):
            folders[name] = Path(storage.location)
    if settings.BACKUP_TMP_DIR:
        folders["backup scratch"] = Path(settings.BACKUP_TMP_DIR)
    return folders


def disk_space() -> list[dict]:
    """Free space on each filesystem the app writes to; the nearest existing parent of a missing folder."""
    found = []
    for name, folder in _storage_folders().items():
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        usage = shutil.disk_usage(probe)
        found.append(
            {
                "what": name,
                "path": str(folder),
                "total_bytes": usage.total,
                "free_bytes": usage.free,
                "free_percent": round(100 * usage.free / usage.total, 1) if usage.total else None,
            }
        )
    return found


def disk_space_problems(found: list[dict]) -> list[str]:
    limit = settings.READINESS_DISK_MIN_FREE_PERCENT
    return [
        f"{entry['what']} ({entry['path']}): {entry['free_percent']} % free (limit {limit} %)"
        for entry in found
        if entry["free_percent"] is not None and entry["free_percent"] < limit
    ]
