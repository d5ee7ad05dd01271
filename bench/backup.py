"""
`backup_db` then `verify_backup` against bare `pg_dump` then `pg_restore` of the same database, in the
same run, on PostgreSQL seeded with `seed_demo --scale`.

    bare    pg_dump -Fc to a file; createdb; pg_restore --exit-on-error --single-transaction; dropdb
    ours    manage.py backup_db --tier manual (pg_dump on an exported snapshot, sha256, manifest of every
            table's row count and checksum, storage, record, audit), then manage.py verify_backup NAME
            (sha256, createdb, the same pg_restore, every table counted and checksummed, compared, dropdb)

Both sides run as child processes, so ours pays its two Django start-ups; the rounds alternate which
side goes first, and the median of the rounds is reported. Target: ours / bare <= 1.3.

    python bench/backup.py [--database-url postgres://postgres@127.0.0.1:5432/indivillage_bench_backup]
                           [--scale 3000] [--rounds 3] [--keep]
"""

import argparse
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

    results = []
    for round_number in range(1, args.rounds + 1):
        sides = {}

        order = ("bare", "ours") if round_number % 2 else ("ours", "bare")
        for side in order:
            if side == "bare":
                sides["bare_dump"] = timed(bare_dump)
                sides["bare_restore"] = timed(bare_restore)
            else:
                sides["ours_backup"] = timed(ours_backup)
                sides["ours_verify"] = timed(ours_verify)
        bare_total = sides["bare_dump"] + sides["bare_restore"]
        ours_total = sides["ours_backup"] + sides["ours_verify"]
        results.append({**sides, "bare": bare_total, "ours": ours_total, "ratio": ours_total / bare_total})
        print(
            f"round {round_number}: bare {bare_total:6.2f} s (pg_dump {sides['bare_dump']:.2f} + pg_restore "
            f"{sides['bare_restore']:.2f})   ours {ours_total:6.2f} s (backup_db {sides['ours_backup']:.2f} + "
            f"verify_backup {sides['ours_verify']:.2f})   ratio {ours_total / bare_total:.3f}",
            flush=True,
        )

    dump_size = dump.stat().st_size
    median = {key: statistics.median(r[key] for r in results) for key in results[0]}
    print()
    print(f"dump size {dump_size / 1e6:.1f} MB; median of {args.rounds} rounds:")
    print(f"  bare pg_dump + pg_restore      {median['bare']:7.2f} s")
    print(f"  backup_db + verify_backup      {median['ours']:7.2f} s")
    verdict = "met" if median["ratio"] <= TARGET else "NOT met"
    print(f"  ratio                          {median['ratio']:7.3f}   (target <= {TARGET}: {verdict})")

    subprocess.run(["rm", "-rf", str(work)])
    if not args.keep:
        psql(f"{server}/postgres", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
