"""
The database metrics (ops.metrics) as display-ready sections, formatted once: `manage.py db_metrics`
prints them as text and the admin page renders them as tables, so both always say the same thing.
"""

from dataclasses import dataclass, field

from django.conf import settings

from . import monitoring
from .metrics import human_bytes


@dataclass
class Fact:
    """One line of a summary: `label: value`. `attrs` are data attributes the page puts on it."""

    label: str
    value: str
    key: str = ""
    attrs: dict = field(default_factory=dict)


@dataclass
class Section:
    key: str
    title: str
    facts: list[Fact] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    right: frozenset = frozenset()  # the columns that hold numbers and sizes
    rows: list[list[str]] = field(default_factory=list)
    empty: str = ""  # said when a table has no row
    note: str = ""  # a line that goes with the title (a status, a caveat)
    note_attrs: dict = field(default_factory=dict)


def _number(value) -> str:
    return "-" if value is None else f"{value:,}"


def _replication(r: dict) -> str:
    if r["role"] == "replica":
        delay = r["replay_delay_seconds"]
        return "a replica, " + (
            "nothing replayed yet" if delay is None else f"last transaction replayed {delay} s ago"
        )
    if not r["standbys"]:
        return "a primary with no standby connected"
    standbys = "; ".join(
        f"{s['application_name'] or s['client_addr']} {s['state']}, "
        f"{human_bytes(None if s['replay_lag_bytes'] is None else int(s['replay_lag_bytes']))} behind"
        + ("" if s["replay_lag_seconds"] is None else f" ({s['replay_lag_seconds']:.1f} s)")
        for s in r["standbys"]
    )
    return f"a primary; standbys: {standbys}"


def _wal_archive(w: dict) -> Fact:
    if not w["archiving"]:
        return Fact(
            "WAL archiving", f"off (archive_mode = {w['mode']})", "wal-archive", {"data-status": "off"}
        )
    problem = monitoring.wal_archive_problem(w)
    last = (
        "nothing archived yet"
        if w["last_archived_at"] is None
        else (
            f"last {w['last_archived_wal']} at {w['last_archived_at']} ({w['seconds_since_archived']} s ago)"
        )
    )
    waiting = "" if w["segments_waiting"] is None else f"; {w['segments_waiting']} segments waiting"
    text = f"{'FAILING: ' + problem if w['failing'] else problem or 'working'}; {last}{waiting}"
    return Fact("WAL archiving", text, "wal-archive", {"data-status": "failing" if problem else "ok"})


def _disk(entry: dict) -> Fact:
    low = (
        entry["free_percent"] is not None and entry["free_percent"] < settings.READINESS_DISK_MIN_FREE_PERCENT
    )
    return Fact(
        f"Disk free ({entry['what']})",
        f"{human_bytes(entry['free_bytes'])} of {human_bytes(entry['total_bytes'])} "
        f"({entry['free_percent']} %) at {entry['path']}" + (" — LOW" if low else ""),
        "disk",
        {"data-low": "true" if low else "false"},
    )


def _summary(m: dict) -> Section:
    size = human_bytes(m["size_bytes"])
    if m["vendor"] == "sqlite":
        size += (
            f" ({_number(m['page_count'])} pages of {human_bytes(m['page_size'])}, {m['free_pages']} free)"
        )
        if m["file_bytes"] is not None:
            size += f"; file {human_bytes(m['file_bytes'])}, WAL {human_bytes(m['wal_bytes'])}"
    facts = [Fact("Size", size, "database-size", {"data-bytes": m["size_bytes"]})]
    if m["vendor"] == "postgresql":
        cache, conn = m["cache"], m["connections"]
        ratio = "-" if cache["hit_ratio"] is None else f"{cache['hit_ratio'] * 100:.2f} %"
        states = ", ".join(f"{state} {count}" for state, count in conn["by_state"].items())
        longest = conn["longest_transaction_seconds"]
        facts += [
            Fact(
                "Cache hit ratio",
                f"{ratio} ({_number(cache['blocks_hit'])} blocks hit, {_number(cache['blocks_read'])} read); "
                f"statistics since {m['stats_reset'] or 'the server started'}",
                "cache-hit-ratio",
            ),
            Fact(
                "Connections to this database",
                f"{conn['total']} ({states}); {conn['server_clients']} client connections on the server, "
                f"max_connections {conn['max_connections']}"
                + ("" if longest is None else f"; oldest open transaction {longest} s"),
                "connections",
                {"data-states": " ".join(conn["by_state"])},
            ),
            Fact(
                "Replication",
                _replication(m["replication"]),
                "replication",
                {"data-role": m["replication"]["role"]},
            ),
            _wal_archive(m["wal_archive"]),
        ]
    facts += [_disk(entry) for entry in m["disk"]]
    title = f"Database {m['database']} (alias {m['alias']}), {m['server_version']}"
    return Section("summary", title, facts=facts)


def _pool_row(alias: str, pool: dict) -> list[str]:
    if "pool_size" not in pool:
        return [alias, pool["status"], *["-"] * 6]
    figures = ["pool_size", "pool_available", "pool_min", "pool_max", "requests_waiting"]
    return [
        alias,
        pool["status"],
        *(_number(pool[name]) for name in figures),
        _number(pool.get("requests_num", 0)),
    ]


def _time(value: str | None) -> str:
    return "never" if value is None else value[:19].replace("T", " ")


def _activity_section(key: str, title: str, sessions: list[dict], empty: str) -> Section:
    return Section(
        key,
        title,
        columns=["pid", "user", "state", "waiting on", "seconds", "query"],
        right=frozenset({0, 4}),
        rows=[_activity_row(a) for a in sessions],
        empty=empty,
    )


def _activity_row(a: dict) -> list[str]:
    seconds = "-" if a["seconds"] is None else f"{a['seconds']:,.1f}"
    query = " ".join((a["query"] or "").split())[:100]
    return [str(a["pid"]), a["user"] or "-", a["state"], a["waiting_on"] or "-", seconds, query]


def _postgresql_sections(m: dict) -> list[Section]:
    st = m["statements"]
    return [
        Section(
            "unused-indexes",
            "Unused indexes (never scanned since the statistics reset; unique ones left out)",
            columns=["table", "index", "size"],
            right=frozenset({2}),
            rows=[[i["table"], i["name"], human_bytes(i["size_bytes"])] for i in m["unused_indexes"]],
            empty="none",
        ),
        Section(
            "table-scans",
            "Sequential and index scans (most rows read by sequential scans first)",
            columns=["table", "seq scans", "rows read by seq", "index scans", "live rows", "dead rows"],
            right=frozenset({1, 2, 3, 4, 5}),
            rows=[
                [
                    s["table"],
                    *(
                        _number(s[k])
                        for k in ("seq_scan", "seq_tup_read", "idx_scan", "live_rows", "dead_rows")
                    ),
                ]
                for s in m["table_scans"]
            ],
        ),
        _activity_section(
            "activity", "Active queries (longest first)", m["activity"]["active"], "none but this one"
        ),
        _activity_section(
            "slow-queries",
            f"Queries running over {m['activity']['slow_threshold_seconds']:g} s",
            m["activity"]["slow"],
            "none",
        ),
        Section(
            "vacuum",
            "Dead rows and vacuum (most dead rows first)",
            columns=["table", "dead rows", "live rows", "last autovacuum", "last vacuum"],
            right=frozenset({1, 2}),
            rows=[
                [
                    v["table"],
                    _number(v["dead_rows"]),
                    _number(v["live_rows"]),
                    _time(v["last_autovacuum"]),
                    _time(v["last_vacuum"]),
                ]
                for v in m["vacuum"]
            ],
        ),
        Section(
            "pools",
            "Connection pools (this process)",
            columns=["alias", "status", "size", "available", "min", "max", "waiting", "requests"],
            right=frozenset(range(2, 8)),
            rows=[_pool_row(alias, pool) for alias, pool in m["pools"].items()],
        ),
        Section(
            "statements",
            "Slowest statements (pg_stat_statements)",
            columns=["mean ms", "calls", "total ms", "rows", "statement"],
            right=frozenset({0, 1, 2, 3}),
            rows=[
                [
                    f"{r['mean_ms']:,.2f}",
                    _number(r["calls"]),
                    f"{r['total_ms']:,.2f}",
                    _number(r["rows"]),
                    " ".join(r["query"].split())[:100],
                ]
                for r in st["rows"]
            ],
            note=f"{st['status']}: {st['detail']}",
            note_attrs={"data-status": st["status"]},
        ),
    ]


def metrics_sections(m: dict) -> list[Section]:
    """The sections of one db_metrics() document, in the order both the command and the page show them."""
    indexes_title = "Largest indexes" + (
        ", with their scans since the statistics reset" if m["vendor"] == "postgresql" else ""
    )
    sections = [
        _summary(m),
        Section(
            "largest-tables",
            "Largest tables",
            columns=["table", "total", "table", "indexes", "rows (est.)"],
            right=frozenset({1, 2, 3, 4}),
            rows=[
                [
                    t["name"],
                    *(human_bytes(t[k]) for k in ("total_bytes", "table_bytes", "index_bytes")),
                    _number(t["rows_estimate"]),
                ]
                for t in m["tables"]
            ],
        ),
        Section(
            "largest-indexes",
            indexes_title,
            columns=["table", "index", "scans", "size"],
            right=frozenset({2, 3}),
            rows=[
                [i["table"], i["name"], _number(i["scans"]), human_bytes(i["size_bytes"])]
                for i in m["indexes"]
            ],
        ),
    ]
    if m["vendor"] != "postgresql":
        return [
            *sections,
            Section(
                "postgresql-only", "", note="On PostgreSQL only: " + ", ".join(m["postgresql_only"]) + "."
            ),
        ]
    return [*sections, *_postgresql_sections(m)]


def _table_lines(section: Section) -> list[str]:
    """Aligned columns; numbers and sizes right-aligned."""
    cells = [section.columns, *section.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(section.columns))]
    lines = []
    for row in cells:
        parts = [
            c.rjust(w) if i in section.right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(parts).rstrip())
    return lines


def sections_text(sections: list[Section]) -> str:
    """The sections as the command prints them."""
    out = []
    for section in sections:
        if out:
            out.append("")
        heading = ": ".join(part for part in (section.title, section.note) if part)
        out.append(heading)
        out += [f"{fact.label}: {fact.value}" for fact in section.facts]
        if section.columns:
            out += _table_lines(section) if section.rows else [f"  {section.empty or 'none'}"]
    return "\n".join(out)
