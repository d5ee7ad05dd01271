"""
`backup_db` then `verify_backup` against bare `pg_dump` then `pg_restore` of the same database, in the
same run, on PostgreSQL seeded with `seed_demo --scale`.

    bare    pg_dump -Fc to a file; createdb; pg_restore --exit-on-error --single-transaction; dropdb
    ours    manage.py backup_db --tier manual (pg_dump on an exported snapshot, sha256, manifest of every
            table's row count and checksum, storage, record, audit), then manage.py verify_backup NAME
            (sha256, createdb, the same pg_restore, every table counted and checksummed, compared, dropdb)

Ours is timed two ways in every round:
    cold    `manage.py backup_db` and `manage.py verify_backup` as two child processes, each paying
            Python's and Django's start-up (about 1.6 s each here), as an operator's shell runs them;
    warm    the same two commands through call_command in one process that has Django loaded, as the
            nightly beat job runs them in a Celery worker (ops.tasks.backup_create with verify).
The order of bare, cold and warm rotates from round to round; the median of the rounds is reported.
Target: ours / bare <= 1.3.

    python bench/backup.py [--database-url postgres://postgres@127.0.0.1:5432/indivillage_bench_backup]
                           [--scale 3000] [--rounds 3] [--keep]
"""

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.3
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/indivillage_bench_backup"


def run(command: list[str], env: dict | None = None) -> str:
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def psql(url: str, sql: str) -> str:
    return run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qtAc", sql]).strip()


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--scale", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database afterwards.")
    args = parser.parse_args()

    url = args.database_url
    server, db_name = url.rsplit("/", 1)
    if not psql(f"{server}/postgres", f"SELECT 1 FROM pg_database WHERE datname = '{db_name}'"):
        psql(f"{server}/postgres", f'CREATE DATABASE "{db_name}"')
    work = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": url,
        "VAR_DIR": str(work / "var"),
        "LOG_LEVEL": "WARNING",
        "BACKUP_ENCRYPTION_KEY": "",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    print(f"Preparing {db_name}: migrate, bootstrap, seed_demo --scale {args.scale} ...", flush=True)
    run([*manage, "migrate", "--noinput", "-v", "0"], env)
    run([*manage, "bootstrap"], env)
    run([*manage, "seed_demo", "--scale", str(args.scale), "--force"], env)
    size = psql(url, "SELECT pg_size_pretty(pg_database_size(current_database()))")
    rows = psql(url, "SELECT sum(n_live_tup) FROM pg_stat_user_tables")
    tables = psql(url, "SELECT count(*) FROM pg_stat_user_tables")
    print(f"Database: {size}, {tables} tables, about {rows} rows", flush=True)

    parts = urlsplit(url)
    libpq = {
        **os.environ,
        "PGHOST": parts.hostname or "localhost",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": parts.username or "postgres",
        "PGPASSWORD": parts.password or "",
    }
    dump = work / "bare.dump"

    def bare_dump():
        run(["pg_dump", "--format=custom", f"--file={dump}", "--dbname", db_name], libpq)

    def bare_restore():
        run(["createdb", "--template=template0", "bench_bare_scratch"], libpq)
        try:
            run(
                [
                    "pg_restore",
                    "--exit-on-error",
                    "--single-transaction",
                    "--no-owner",
                    "--no-privileges",
                    "--dbname=bench_bare_scratch",
                    str(dump),
                ],
                libpq,
            )
        finally:
            run(["dropdb", "--if-exists", "bench_bare_scratch"], libpq)

    names = []

    def ours_backup():
        out = run([*manage, "backup_db", "--tier", "manual"], env)
        names.append(next(line.split()[-1] for line in out.splitlines() if line.strip().startswith("name:")))

    def ours_verify():
        out = run([*manage, "verify_backup", names[-1]], env)
        assert "passed verification" in out, out

    # The warm side: this process becomes the Django process (the same environment as the children).
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    def warm_backup():
        out = io.StringIO()
        call_command("backup_db", tier="manual", stdout=out)
        names.append(next(line.split()[-1] for line in out.getvalue().splitlines() if "name:" in line))

    def warm_verify():
        out = io.StringIO()
        call_command("verify_backup", names[-1], stdout=out)
        assert "passed verification" in out.getvalue(), out.getvalue()

    steps = {
        "bare": (("bare_dump", bare_dump), ("bare_restore", bare_restore)),
        "cold": (("cold_backup", ours_backup), ("cold_verify", ours_verify)),
        "warm": (("warm_backup", warm_backup), ("warm_verify", warm_verify)),
    }
    results = []
    for round_number in range(1, args.rounds + 1):
        sides = {}
        order = ["bare", "cold", "warm"]
        order = order[round_number % 3 :] + order[: round_number % 3]
        for side in order:
            for key, step in steps[side]:
                sides[key] = timed(step)
        totals = {side: sides[f"{a}"] + sides[f"{b}"] for side, ((a, _), (b, _)) in steps.items()}
        results.append(
            {
                **sides,
                **totals,
                "cold_ratio": totals["cold"] / totals["bare"],
                "warm_ratio": totals["warm"] / totals["bare"],
            }
        )
        print(
            f"round {round_number}: bare {totals['bare']:6.2f} s (pg_dump {sides['bare_dump']:.2f} + pg_restore "
            f"{sides['bare_restore']:.2f})   cold {totals['cold']:6.2f} s (backup_db {sides['cold_backup']:.2f} + "
            f"verify_backup {sides['cold_verify']:.2f})   warm {totals['warm']:6.2f} s ({sides['warm_backup']:.2f}"
            f" + {sides['warm_verify']:.2f})   ratios cold {totals['cold'] / totals['bare']:.3f}"
            f" warm {totals['warm'] / totals['bare']:.3f}",
            flush=True,
        )

    dump_size = dump.stat().st_size
    median = {key: statistics.median(r[key] for r in results) for key in results[0]}
    print()
    print(f"dump size {dump_size / 1e6:.1f} MB; median of {args.rounds} rounds:")
    print(f"  bare pg_dump + pg_restore                     {median['bare']:7.2f} s")
    print(f"  backup_db + verify_backup, two processes (cold) {median['cold']:7.2f} s")
    print(f"  backup_db + verify_backup, one process (warm)   {median['warm']:7.2f} s")
    for side in ("cold", "warm"):
        ratio = median[f"{side}_ratio"]
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(
            f"  ratio {side}                                    {ratio:7.3f}   (target <= {TARGET}: {verdict})"
        )

    subprocess.run(["rm", "-rf", str(work)])
    if not args.keep:
        psql(f"{server}/postgres", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
