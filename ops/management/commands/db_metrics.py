import json

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError

from common.commands import BaseCommand
from ops.metrics import DEFAULT_LIMIT, db_metrics, human_bytes


def _table(headers: list[str], rows: list[list], right: set[int]) -> list[str]:
    """Aligned columns; the columns in `right` (numbers, sizes) are right-aligned."""
    cells = [[str(c) for c in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(parts).rstrip())
    return lines


def _number(value) -> str:
    return "-" if value is None else f"{value:,}"


def _replication(r: dict) -> str:
    if r["role"] == "replica":
        delay = r["replay_delay_seconds"]
        return "Replication: a replica, " + (
            "nothing replayed yet" if delay is None else f"last transaction replayed {delay} s ago"
        )
    if not r["standbys"]:
        return "Replication: a primary with no standby connected"
    standbys = "; ".join(
        f"{s['application_name'] or s['client_addr']} {s['state']}, "
        f"{human_bytes(None if s['replay_lag_bytes'] is None else int(s['replay_lag_bytes']))} behind"
        + ("" if s["replay_lag_seconds"] is None else f" ({s['replay_lag_seconds']:.1f} s)")
        for s in r["standbys"]
    )
    return f"Replication: a primary; standbys: {standbys}"


def _text(m: dict) -> list[str]:
    out = [f"Database {m['database']} (alias {m['alias']}), {m['server_version']}"]
    size = f"Size: {human_bytes(m['size_bytes'])}"
    if m["vendor"] == "sqlite":
        size += (
            f" ({_number(m['page_count'])} pages of {human_bytes(m['page_size'])}, {m['free_pages']} free)"
        )
        if m["file_bytes"] is not None:
            size += f"; file {human_bytes(m['file_bytes'])}, WAL {human_bytes(m['wal_bytes'])}"
    out.append(size)
    if m["vendor"] == "postgresql":
        cache = m["cache"]
        ratio = "-" if cache["hit_ratio"] is None else f"{cache['hit_ratio'] * 100:.2f} %"
        out.append(
            f"Cache hit ratio: {ratio} ({_number(cache['blocks_hit'])} blocks hit, "
            f"{_number(cache['blocks_read'])} read); statistics since {m['stats_reset'] or 'the server started'}"
        )
        conn = m["connections"]
        states = ", ".join(f"{state} {count}" for state, count in conn["by_state"].items())
        longest = conn["longest_transaction_seconds"]
        out.append(
            f"Connections to this database: {conn['total']} ({states}); {conn['server_clients']} client "
            f"connections on the server, max_connections {conn['max_connections']}"
            + ("" if longest is None else f"; oldest open transaction {longest} s")
        )
        out.append(_replication(m["replication"]))

    out += ["", "Largest tables"]
    out += _table(
        ["table", "total", "table", "indexes", "rows (est.)"],
        [
            [
                t["name"],
                human_bytes(t["total_bytes"]),
                human_bytes(t["table_bytes"]),
                human_bytes(t["index_bytes"]),
                _number(t["rows_estimate"]),
            ]
            for t in m["tables"]
        ],
        right={1, 2, 3, 4},
    )
    out += [
        "",
        "Largest indexes"
        + (", with their scans since the statistics reset" if m["vendor"] == "postgresql" else ""),
    ]
    out += _table(
        ["table", "index", "scans", "size"],
        [[i["table"], i["name"], _number(i["scans"]), human_bytes(i["size_bytes"])] for i in m["indexes"]],
        right={2, 3},
    )
    if m["vendor"] != "postgresql":
        out += ["", "On PostgreSQL only: " + ", ".join(m["postgresql_only"]) + "."]
        return out

    out += ["", "Unused indexes (never scanned since the statistics reset; unique ones left out)"]
    unused = m["unused_indexes"]
    out += (
        _table(
            ["table", "index", "size"],
            [[i["table"], i["name"], human_bytes(i["size_bytes"])] for i in unused],
            right={2},
        )
        if unused
        else ["  none"]
    )
    out += ["", "Sequential and index scans (most rows read by sequential scans first)"]
    out += _table(
        ["table", "seq scans", "rows read by seq", "index scans", "live rows", "dead rows"],
        [
            [
                s["table"],
                _number(s["seq_scan"]),
                _number(s["seq_tup_read"]),
                _number(s["idx_scan"]),
                _number(s["live_rows"]),
                _number(s["dead_rows"]),
            ]
            for s in m["table_scans"]
        ],
        right={1, 2, 3, 4, 5},
    )
    out += ["", "Connection pools (this process)"]
    pool_rows = []
    for alias, pool in m["pools"].items():
        if "pool_size" in pool:
            pool_rows.append(
                [
                    alias,
                    pool["status"],
                    pool["pool_size"],
                    pool["pool_available"],
                    pool["pool_min"],
                    pool["pool_max"],
                    pool["requests_waiting"],
                    _number(pool.get("requests_num", 0)),
                ]
            )
        else:
            pool_rows.append([alias, pool["status"], None, None, None, None, None, None])
    out += _table(
        ["alias", "status", "size", "available", "min", "max", "waiting", "requests"],
        pool_rows,
        right={2, 3, 4, 5, 6, 7},
    )
    st = m["statements"]
    out += ["", f"Slowest statements (pg_stat_statements): {st['status']}: {st['detail']}"]
    if st["rows"]:
        out += _table(
            ["mean ms", "calls", "total ms", "rows", "statement"],
            [
                [
                    f"{r['mean_ms']:,.2f}",
                    _number(r["calls"]),
                    f"{r['total_ms']:,.2f}",
                    _number(r["rows"]),
                    " ".join(r["query"].split())[:100],
                ]
                for r in st["rows"]
            ],
            right={0, 1, 2, 3},
        )
    return out


class Command(BaseCommand):
    help = (
        "Database metrics: size, largest tables, index use, connections, cache hit ratio, connection pools "
        "and the slowest statements (PostgreSQL; SQLite gives what it has). See docs/database.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="The database alias (default: default).")
        parser.add_argument("--json", action="store_true", help="One JSON document instead of tables.")
        parser.add_argument(
            "--limit", type=int, default=DEFAULT_LIMIT, help=f"Rows per list (default {DEFAULT_LIMIT})."
        )

    def handle(self, *args, **options):
        alias, limit = options["database"], options["limit"]
        if alias not in settings.DATABASES:
            raise CommandError(f"No database alias {alias!r}; known: {', '.join(settings.DATABASES)}.")
        if limit < 1:
            raise CommandError("--limit must be 1 or more.")
        try:
            metrics = db_metrics(using=alias, limit=limit)
        except DatabaseError as error:
            raise CommandError(f"Could not read the metrics of {alias!r}: {error}") from error
        if options["json"]:
            self.stdout.write(json.dumps(metrics, indent=2, default=str))
        else:
            self.stdout.write("\n".join(_text(metrics)))
