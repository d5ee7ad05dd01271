"""
Where a restore starts replaying GDPR erasures: a time every erasure the backup cannot hold is stamped at
or after, since an erasure is stamped before it commits (docs/backups.md, "Erasures made while a backup
runs").
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
