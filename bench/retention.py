"""
`apply_retention` at two scales, ten times apart, on PostgreSQL: is it linear, and is its memory flat?

    audit   100,000 then 1,000,000 audit rows past their seven years (--policy audit)
    users   10,000 then 100,000 users who have not logged in for 24 months (--policy users_inactive)

Each scale starts from an empty benchmark database (created and migrated by this script, dropped at the
end unless --keep), is seeded with plain SQL (generate_series: seconds, not an hour of ORM saves), and
runs the real management command in a child process, so that the peak RSS reported (from wait4) belongs
to that one run. Prints the time, rows per second and peak RSS of each run, and per workload the ratio
of the two times. Targets: ratio <= 12 (ten times the rows in at most twelve times the time), peak RSS
< 200 MB in every run.

    python bench/retention.py [--database-url postgres://postgres@127.0.0.1:5432/indivillage_bench_retention]
                              [--scale 1.0] [--workload audit|users ...] [--ref GIT_REV] [--keep]

--scale shrinks every count (0.1 runs 10k/100k audit rows and 1k/10k users) for a quick look.
--ref runs the same workloads on the code of GIT_REV first (a temporary `git worktree`, its own
database), so that the figures before and after a change come from one run on one machine.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RATIO_TARGET = 12
RSS_TARGET_MB = 200
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/indivillage_bench_retention"


def psql(url: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-qtAc", sql], capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"psql failed: {done.stderr.strip()}")
    return done.stdout.strip()


def env_for(url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": url,
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }


def manage(url: str, *args: str, root: Path = ROOT) -> tuple[float, float, str]:
    """Runs manage.py of the code in `root` in a child; returns (seconds, peak RSS in MB, output)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(root / "manage.py"), *args],
        env=env_for(url),
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{output}")
    return elapsed, usage.ru_maxrss / 1024, output  # ru_maxrss is in KiB on Linux


def reset(url: str) -> None:
    # The audit log refuses TRUNCATE unless the session says so (audit/chain.py): this one does.
    psql(
        url,
        "SET audit.allow_truncate = on; TRUNCATE audit_auditlog, accounts_user, knox_authtoken,"
        " submissions_formsubmission, uploads_fileupload CASCADE;",
    )


def seed_audit(url: str, n: int, root: Path = ROOT) -> None:
    psql(
        url,
        f"""
        INSERT INTO audit_auditlog (id, sequence, action, entity_type, entity_id, actor_id, changes,
                                    ip_address, request_id, created_at, prev_hash, hash)
        SELECT gen_random_uuid(), i, 'user.login_failed', 'accounts.user', gen_random_uuid()::text, NULL,
               jsonb_build_object('reason', 'bad password', 'attempt', i % 5),
               '203.0.113.7', md5(i::text), now() - interval '8 years' + i * interval '1 millisecond',
               md5((i - 1)::text) || md5((i - 1)::text), md5(i::text) || md5(i::text)
        FROM generate_series(1, {n}) AS i;
        ANALYZE audit_auditlog;
        """,
    )


def seed_users(url: str, n: int, root: Path = ROOT) -> None:
    # One ciphertext of "" for every phone: the encrypted column must hold something the keyring opens.
    phone = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup();"
            # What the phone field stores for "": a pickle, encrypted by the keyring (common.fields).
            "import pickle; from common.encryption import keyring;"
            "print(keyring.encrypt(pickle.dumps('')).hex())",
        ],
        env=env_for(url),
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    psql(
        url,
        f"""
        INSERT INTO accounts_user (id, password, last_login, is_superuser, email, name, company, phone,
                                   country, role, is_active, is_staff, preferences, legal_hold,
                                   anonymized_at, session_generation, created_at, updated_at)
        SELECT gen_random_uuid(), '!unusable', now() - interval '3 years', false,
               'client' || i || '@example.com', 'Client ' || i, 'Company ' || (i % 500), '\\x{phone}'::bytea,
               'IN', 'user', true, false, '{{"notifications": true, "theme": "light"}}'::jsonb,
               (i % 100 = 0), NULL, 0, now() - interval '4 years', now() - interval '3 years'
        FROM generate_series(1, {n}) AS i;
        ANALYZE accounts_user;
        """,
    )


WORKLOADS = {
    "audit": ("audit", seed_audit, (100_000, 1_000_000)),
    "users": ("users_inactive", seed_users, (10_000, 100_000)),
}


def run_code(label: str, root: Path, url: str, workloads: list[str], scale: float) -> list[tuple]:
    """Every workload at its two sizes on the code in `root`, in a fresh database; one row per run."""
    server, name = url.rsplit("/", 1)
    psql(server + "/postgres", f'DROP DATABASE IF EXISTS "{name}"')
    psql(server + "/postgres", f'CREATE DATABASE "{name}"')
    manage(url, "migrate", "--verbosity", "0", root=root)
    results = []
    for workload in workloads:
        policy, seed, sizes = WORKLOADS[workload]
        times = []
        for size in (int(n * scale) for n in sizes):
            reset(url)
            t0 = time.perf_counter()
            seed(url, size, root=root)
            seeded = time.perf_counter() - t0
            seconds, rss, output = manage(url, "apply_retention", "--policy", policy, root=root)
            line = next((ln for ln in output.splitlines() if ln.startswith(policy)), "").split()
            done = int(line[-2]) if len(line) > 2 else -1  # the "done" column, before the action
            times.append(seconds)
            results.append((label, workload, size, done, seconds, rss))
            print(
                f"{label:<6} {workload:<6} {size:>9,} rows  seeded in {seeded:6.1f}s  apply_retention"
                f" {seconds:7.1f}s  {done / seconds:9,.0f} rows/s  done {done:,}  peak RSS {rss:6.1f} MB",
                flush=True,
            )
        ratio = times[1] / times[0]
        verdict = "met" if ratio <= RATIO_TARGET else "NOT met"
        print(
            f"{label:<6} {workload:<6} time ratio 10x the rows: {ratio:.2f} (target <= {RATIO_TARGET}: {verdict})"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workload", action="append", choices=sorted(WORKLOADS), help="default: all")
    parser.add_argument("--ref", help="a git revision to run first, for the figures before a change")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database afterwards.")
    args = parser.parse_args()
    url = args.database_url
    server, name = url.rsplit("/", 1)
    if name in {"indivillage", "postgres"}:
        sys.exit("Refusing to benchmark in a database that may hold real data: name a scratch one.")
    workloads = args.workload or list(WORKLOADS)
    print(f"database {url}; PostgreSQL {psql(server + '/postgres', 'SHOW server_version')}")
    results = []
    try:
        if args.ref:
            with tempfile.TemporaryDirectory(prefix="bench-retention-ref-") as scratch:
                tree = Path(scratch) / "tree"
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), args.ref],
                    check=True,
                )
                try:
                    results += run_code("before", tree, f"{url}_ref", workloads, args.scale)
                finally:
                    psql(server + "/postgres", f'DROP DATABASE IF EXISTS "{name}_ref"')
                    subprocess.run(
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True
                    )
        results += run_code("after" if args.ref else "now", ROOT, url, workloads, args.scale)
        worst = max(r[5] for r in results)
        verdict = "met" if worst < RSS_TARGET_MB else "NOT met"
        print(f"peak RSS, worst run: {worst:.1f} MB (target < {RSS_TARGET_MB} MB: {verdict})")
    finally:
        if not args.keep:
            psql(server + "/postgres", f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
