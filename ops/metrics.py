"""
Database metrics for operators (`manage.py db_metrics`, the admin's Database metrics page,
docs/database.md): size, the largest tables, index use, connections, cache hit ratio, the connection
pools and the slowest statements.

Every figure comes from the catalog and the statistics views, never from scanning a table, so the page
can be opened on a busy database. PostgreSQL gives all of it; SQLite (the embedded mode) gives the file,
its tables and their rows, and names the figures that exist on PostgreSQL only.
"""

import os

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from common.pools import database_pool

from . import monitoring
from .monitoring import iso, rows_as_dicts

DEFAULT_LIMIT = 10

# SQLSTATE 55000 (object not in prerequisite state): the extension is installed in the database, but
# the server did not load its library at start, so the view cannot be read.
_NOT_LOADED = "55000"

POSTGRESQL_ONLY = [
    "index usage",
    "sequential and index scans",
    "connections",
    "cache hit ratio",
    "connection pool",
    "slowest statements",
    "active and long-running queries",
    "vacuum",
    "WAL archiving",
]


def db_metrics(using: str = "default", *, limit: int = DEFAULT_LIMIT) -> dict:
    """Every figure for the database behind `using`; `limit` caps each list."""
    connection = connections[using]
    base = {
        "alias": using,
        "vendor": connection.vendor,
        "generated_at": timezone.now().isoformat(),
        "limit": limit,
    }
    if connection.vendor == "postgresql":
        return {**base, **_postgresql(connection, limit)}
    if connection.vendor == "sqlite":
        return {**base, **_sqlite(connection, limit)}
    return {**base, "postgresql_only": POSTGRESQL_ONLY, "note": f"no metrics for {connection.vendor}"}


def human_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    # The units of Django's filesizeformat, which the admin templates use: one spelling everywhere.
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# --- PostgreSQL -----------------------------------------------------------------------------------

_TABLES = """
    SELECT n.nspname AS schema, c.relname AS name,
           pg_total_relation_size(c.oid) AS total_bytes,
           pg_table_size(c.oid) AS table_bytes,
           pg_indexes_size(c.oid) AS index_bytes,
           -- reltuples is -1 until the table is first vacuumed or analysed; the live-row counter then.
           CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint ELSE s.n_live_tup END AS rows_estimate
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
    WHERE c.relkind IN ('r', 'p', 'm')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
    ORDER BY total_bytes DESC, c.relname
    LIMIT %s
"""

# The largest indexes, with how often each was used: size is what an index costs (on disk, in memory,
# on every write), scans are what it earns.
_INDEXES = """
    SELECT s.relname AS "table", s.indexrelname AS name, s.idx_scan AS scans,
           pg_relation_size(s.indexrelid) AS size_bytes, i.indisunique AS "unique", i.indisprimary AS "primary"
    FROM pg_stat_user_indexes s
    JOIN pg_index i ON i.indexrelid = s.indexrelid
    ORDER BY size_bytes DESC, s.idx_scan DESC, s.relname, s.indexrelname
    LIMIT %s
"""

# Never scanned since the statistics were reset. Unique and primary-key indexes are left out: they
# enforce a constraint on every write even when no query reads them.
_UNUSED_INDEXES = """
    SELECT s.relname AS "table", s.indexrelname AS name, pg_relation_size(s.indexrelid) AS size_bytes
    FROM pg_stat_user_indexes s
    JOIN pg_index i ON i.indexrelid = s.indexrelid
    WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
    ORDER BY size_bytes DESC, s.relname, s.indexrelname
    LIMIT %s
"""

# The tables read most by sequential scans (rows read that way): where an index may be missing.
_TABLE_SCANS = """
    SELECT relname AS "table", seq_scan, seq_tup_read, COALESCE(idx_scan, 0) AS idx_scan,
           n_live_tup AS live_rows, n_dead_tup AS dead_rows
    FROM pg_stat_user_tables
    ORDER BY seq_tup_read DESC, seq_scan DESC, relname
    LIMIT %s
"""

_CONNECTIONS = """
    SELECT COALESCE(state, 'background') AS state, count(*) AS count,
           -- This connection's own transaction left out: it is always the youngest.
           EXTRACT(EPOCH FROM max(now() - xact_start) FILTER (WHERE pid <> pg_backend_pid()))
               AS longest_transaction_seconds
    FROM pg_stat_activity
    WHERE datname = current_database()
    GROUP BY 1
    ORDER BY 2 DESC, 1
"""


def _postgresql(connection, limit: int) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), pg_database_size(current_database()), version()")
        database, size, version = cursor.fetchone()
        cursor.execute("SHOW max_connections")
        max_connections = int(cursor.fetchone()[0])

        tables = rows_as_dicts(cursor, _TABLES, [limit])
        indexes = rows_as_dicts(cursor, _INDEXES, [limit])
        unused = rows_as_dicts(cursor, _UNUSED_INDEXES, [limit])
        scans = rows_as_dicts(cursor, _TABLE_SCANS, [limit])

        states = rows_as_dicts(cursor, _CONNECTIONS)
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        server_clients = cursor.fetchone()[0]

        cursor.execute(
            "SELECT blks_hit, blks_read, stats_reset FROM pg_stat_database WHERE datname = current_database()"
        )
        hit, read, stats_reset = cursor.fetchone()
        replication = _replication(cursor)
        activity = monitoring.activity(cursor, limit)
        vacuum = monitoring.vacuum(cursor, limit)

    longest = [
        s["longest_transaction_seconds"] for s in states if s["longest_transaction_seconds"] is not None
    ]
    return {
        "database": database,
        "server_version": version.split(" on ")[0],
        "size_bytes": size,
        "stats_reset": iso(stats_reset),
        "tables": tables,
        "indexes": indexes,
        "unused_indexes": unused,
        "table_scans": scans,
        "connections": {
            "by_state": {s["state"]: s["count"] for s in states},
            "total": sum(s["count"] for s in states),
            "server_clients": server_clients,
            "max_connections": max_connections,
            "longest_transaction_seconds": round(float(max(longest)), 1) if longest else None,
        },
        "cache": {
            "blocks_hit": hit,
            "blocks_read": read,
            # Of the blocks the database asked for, the share found in PostgreSQL's shared buffers.
            "hit_ratio": round(hit / (hit + read), 4) if hit + read else None,
        },
        "replication": replication,
        "pools": pool_stats(),
        "statements": statements(connection, limit),
        "activity": activity,
        "vacuum": vacuum,
        "wal_archive": monitoring.wal_archive(connection),
        "disk": monitoring.disk_space(),
    }


def _replication(cursor) -> dict:
    """
    On a replica, how far behind the primary it replays; on a primary, its standbys. The delay is the
    age of the last transaction replayed, so on a quiet primary it grows with no lag at all.
    """
    cursor.execute("SELECT pg_is_in_recovery()")
    if cursor.fetchone()[0]:
        cursor.execute("SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())")
        delay = cursor.fetchone()[0]
        return {"role": "replica", "replay_delay_seconds": None if delay is None else round(float(delay), 1)}
    standbys = rows_as_dicts(
        cursor,
        """
        SELECT application_name, client_addr::text AS client_addr, state,
               pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS replay_lag_bytes,
               EXTRACT(EPOCH FROM replay_lag) AS replay_lag_seconds
        FROM pg_stat_replication
        ORDER BY application_name
        """,
    )
    for standby in standbys:
        for key in ("replay_lag_bytes", "replay_lag_seconds"):
            if standby[key] is not None:
                standby[key] = float(standby[key])
    return {"role": "primary", "standbys": standbys}


def pool_stats() -> dict[str, dict]:
    """
    Django's psycopg pool of every PostgreSQL alias, as this process sees it: each process (web worker,
    Celery worker, this command) has pools of its own, and one exists once the alias was first used.
    """
    found = {}
    for alias in settings.DATABASES:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            found[alias] = {"status": f"no pool ({connection.vendor})"}
        elif not connection.settings_dict["OPTIONS"].get("pool"):
            found[alias] = {"status": "pool not configured: a connection per request"}
        elif (pool := database_pool(alias)) is None:
            found[alias] = {"status": "no pool in this process"}
        else:
            found[alias] = {"status": "closed" if pool.closed else "open", **pool.get_stats()}
    return found


def statements(connection, limit: int) -> dict:
    """The slowest statements by mean time, from pg_stat_statements when it is installed and loaded."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'")
        installed = cursor.fetchone()
        if installed is None:
            cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'")
            available = cursor.fetchone() is not None
            return {
                "status": "not installed",
                "detail": (
                    "CREATE EXTENSION pg_stat_statements; in this database (the server has it)"
                    if available
                    else "the server does not ship pg_stat_statements (postgresql-contrib)"
                ),
                "rows": [],
            }
        try:
            # In a savepoint: the failed read must not break a transaction around the call.
            with transaction.atomic(using=connection.alias):
                rows = rows_as_dicts(
                    cursor,
                    """
                    SELECT query, calls, round(total_exec_time::numeric, 2) AS total_ms,
                           round(mean_exec_time::numeric, 2) AS mean_ms, rows
                    FROM pg_stat_statements
                    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                    ORDER BY mean_exec_time DESC
                    LIMIT %s
                    """,
                    [limit],
                )
        except DatabaseError as error:
            if getattr(error.__cause__, "sqlstate", None) == _NOT_LOADED:
                return {
                    "status": "not loaded",
                    "detail": (
                        f"installed ({installed[0]}) but not in shared_preload_libraries: add it there and "
                        "restart PostgreSQL"
                    ),
                    "rows": [],
                }
            return {"status": "unavailable", "detail": str(error).strip(), "rows": []}
    for row in rows:
        row["total_ms"], row["mean_ms"] = float(row["total_ms"]), float(row["mean_ms"])
    return {"status": "ok", "detail": f"pg_stat_statements {installed[0]}", "rows": rows}


# --- SQLite ---------------------------------------------------------------------------------------


def _sqlite(connection, limit: int) -> dict:
    name = str(connection.settings_dict["NAME"])
    with connection.cursor() as cursor:
        page_size = cursor.execute("PRAGMA page_size").fetchone()[0]
        page_count = cursor.execute("PRAGMA page_count").fetchone()[0]
        freelist = cursor.execute("PRAGMA freelist_count").fetchone()[0]
        objects = cursor.execute(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index') "
            "AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        table_names = [n for kind, n, _ in objects if kind == "table"]
        index_table = {n: table for kind, n, table in objects if kind == "index"}
        try:
            # dbstat (a compile-time option, on in Python's usual builds) sizes every table and index.
            sizes = dict(cursor.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
        except DatabaseError:
            sizes = None
        # SQLite keeps no row estimate; counting is the only way, cheap at the embedded mode's sizes.
        # The names come from sqlite_master and are quoted.
        counts = {
            table: cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}").fetchone()[0]  # noqa: S608
            for table in table_names
        }

    tables = []
    for table in table_names:
        entry = {"schema": "main", "name": table, "rows_estimate": counts[table]}
        if sizes is None:
            entry.update(total_bytes=None, table_bytes=None, index_bytes=None)
        else:
            index_bytes = sum(sizes.get(i, 0) for i, t in index_table.items() if t == table)
            table_bytes = sizes.get(table, 0)
            entry.update(
                total_bytes=table_bytes + index_bytes, table_bytes=table_bytes, index_bytes=index_bytes
            )
        tables.append(entry)
    if sizes is None:
        tables.sort(key=lambda t: (-t["rows_estimate"], t["name"]))
    else:
        tables.sort(key=lambda t: (-t["total_bytes"], t["name"]))
    tables = tables[:limit]
    indexes = [
        {"table": table, "name": index, "scans": None, "size_bytes": sizes.get(index, 0) if sizes else None}
        for index, table in index_table.items()
    ]
    indexes.sort(key=lambda i: (-(i["size_bytes"] or 0), i["table"], i["name"]))
    indexes = indexes[:limit]

    in_memory = name == ":memory:" or "mode=memory" in name
    file_bytes = None if in_memory or not os.path.exists(name) else os.path.getsize(name)
    wal = f"{name}-wal"
    return {
        "database": name,
        "server_version": f"SQLite {connection.Database.sqlite_version}",
        "size_bytes": page_size * page_count,
        "file_bytes": file_bytes,
        "wal_bytes": os.path.getsize(wal) if not in_memory and os.path.exists(wal) else None,
        "page_size": page_size,
        "page_count": page_count,
        "free_pages": freelist,
        "tables": tables,
        "indexes": indexes,
        "disk": monitoring.disk_space(),
        "postgresql_only": POSTGRESQL_ONLY,
    }
