"""
Where a restore starts replaying GDPR erasures: a time that every erasure the backup cannot hold is
guaranteed to be stamped at or after (docs/backups.md, "Erasures made while a backup runs").

An erasure's ErasureRecord.erased_at is stamped by the database's clock when its row is inserted
(`db_default=Now()`, STATEMENT_TIMESTAMP() on PostgreSQL), but the transaction commits later. A backup
whose snapshot is taken in between holds neither the erasure nor its record, and its journal line,
written after commit, carries that earlier time: replaying from the backup's own start would skip it.

On PostgreSQL the backup therefore reads, just before the dump's snapshot is taken, the start of the
oldest transaction open in this database (pg_stat_activity.xact_start, same clock). An erasure the
snapshot cannot see either was open then, so its record was inserted after that start, or began
after the read, so later still. Replaying a few erasures the backup already holds is harmless (a
replay of an applied erasure changes nothing), so the boundary errs early: CLOCK_MARGIN covers a clock
stepped back by NTP between the two readings.

SQLite has one writer at a time and no view of other connections' transactions: the boundary is the
backup's start less SQLITE_MARGIN, far longer than an erasure's transaction lasts.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_datetime

logger = logging.getLogger(__name__)

CLOCK_MARGIN = timedelta(minutes=1)
SQLITE_MARGIN = timedelta(minutes=10)
# When sessions of another role hide their transaction start (no pg_read_all_stats), or for a manifest
# written before the boundary was recorded: erasures of the hour before are replayed too.
BLIND_MARGIN = timedelta(hours=1)

MANIFEST_KEY = "erasures_replay_from"

_PG_OLDEST_OPEN = """
SELECT statement_timestamp(),
       min(xact_start) FILTER (WHERE pid <> pg_backend_pid()),
       count(*) FILTER (WHERE query = '<insufficient privilege>')
FROM pg_stat_activity
WHERE datname = current_database()
"""


def pg_replay_from(conn) -> datetime:
    """
    Reads the boundary on `conn` (psycopg, not in a transaction) and commits, so that the snapshot the
    caller takes next is strictly later than the reading.
    """
    now, oldest, hidden = conn.execute(_PG_OLDEST_OPEN).fetchone()
    conn.commit()
    boundary = min(now, oldest) if oldest else now
    if hidden:
        logger.warning(
            "backup: %d sessions of another role hide their transactions (grant pg_read_all_stats): "
            "a restore will replay the erasures of the %s before this backup too",
            hidden,
            BLIND_MARGIN,
        )
        boundary = min(boundary, now - BLIND_MARGIN)
    return (boundary - CLOCK_MARGIN).astimezone(UTC)


def sqlite_replay_from(started: datetime) -> datetime:
    return started - SQLITE_MARGIN


def replay_since(manifest: dict) -> datetime:
    """The time a restore of this backup replays erasures from."""
    recorded = parse_datetime(manifest.get(MANIFEST_KEY) or "")
    if recorded is not None:
        return recorded
    # A backup taken before the boundary was recorded: its start, with the widest margin.
    return parse_datetime(manifest["created_at"]) - BLIND_MARGIN
