"""
API throughput on loopback, side by side with a bare JsonResponse on the same server.

Seeds PostgreSQL with `seed_demo --scale`, starts gunicorn (2 workers) on production settings with
Redis, and loads it with wrk for: the baseline, /api/v1/services/ cached, /api/v1/case-studies/?limit=20
uncached (`Cache-Control: no-cache` makes the view run every time), the 304 path, and contact-form
POSTs. Prints req/s, p50 and p99 for each and each throughput as a ratio to the baseline.

The machine is shared (a VM with noisy neighbours): every round runs the baseline and every scenario
back to back, each ratio is taken against its own round's baseline, and the median over rounds is
what counts. Beside each rate it prints the CPU time per request of every process involved
(gunicorn, PostgreSQL, Redis, wrk, read from /proc): where the cost is, and whether the two cores were
the limit (req/s close to 2 / CPU time). It moves with the rates from round to round (a busy
neighbour slows the CPU itself), so it explains a noisy run but does not remove the noise;
bench/instructions.py does, for the Django process alone.

    python bench/api.py [--scale 20] [--duration 5] [--rounds 3] [--connections 16]

Needs: wrk (Debian), PostgreSQL and Redis on loopback. Uses its own database and Redis db.
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PORT = 8097
BASE = f"http://127.0.0.1:{PORT}"


def _env(database_url: str, redis_url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_SECRET_KEY": "bench-" + "s3cr3t-K3y!" * 6,
        "FIELD_ENCRYPTION_KEY": "bench-field-key",
        "BLIND_INDEX_KEY": "bench-blind-key",
        "AUDIT_CHAIN_KEY": "bench-audit-chain-key",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LEAD_FORM_LIMIT_PER_IP": "1000000000",
        "LEAD_FORM_LIMIT_PER_EMAIL": "1000000000",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "PYTHONPATH": str(ROOT),
    }


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def _seed(env: dict, database_url: str, redis_url: str, scale: int) -> None:
    """A new database with seed_demo --scale, vacuumed and analyzed, and an empty Redis db."""
    admin_url, db_name = database_url.rsplit("/", 1)
    for sql in (f'DROP DATABASE IF EXISTS "{db_name}"', f'CREATE DATABASE "{db_name}"'):
        subprocess.run(["psql", f"{admin_url}/postgres", "-qc", sql], check=True)
    subprocess.run(["redis-cli", "-u", redis_url, "FLUSHDB"], check=True, capture_output=True)
    print(f"Seeding {db_name} (seed_demo --scale {scale}) ...", flush=True)
    _manage(env, "migrate", "--noinput", "-v0")
    env_admin = {
        **env,
        "FIRST_ADMIN_EMAIL": "bench@example.com",
        "FIRST_ADMIN_PASSWORD": "bench-password-long-1",
    }
    _manage(env_admin, "bootstrap")
    _manage(env, "seed_demo", "--scale", str(scale), "--force")
    # This machine's PostgreSQL runs with autovacuum off. On a real server autovacuum vacuums and
    # analyzes a freshly loaded table within a minute; without statistics the planner misjudges the
    # page statement and re-plans it on every execution (docs/performance.md).
    subprocess.run(["psql", database_url, "-qc", "VACUUM ANALYZE"], check=True)


def _cpu_seconds(server_pid: int) -> float:
    """CPU time so far of gunicorn (master and workers), PostgreSQL (every process) and Redis."""
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat_file:
                stat = stat_file.read()
        except OSError:  # gone in between
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()  # fields[1] is the parent, [11] and [12] utime, stime
        if server_pid in (int(entry.name), int(fields[1])) or name in ("postgres", "redis-server"):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _wrk(
    path: str, seconds: int, connections: int, server_pid: int, headers=(), script: str | None = None
) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    server_before, wrk_before = _cpu_seconds(server_pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run([*command, BASE + path], capture_output=True, text=True, check=True).stdout
    server_after, wrk_after = _cpu_seconds(server_pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    wrk_cpu = (wrk_after.ru_utime + wrk_after.ru_stime) - (wrk_before.ru_utime + wrk_before.ru_stime)

    def latency(pct):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {
        "rps": rps,
        "p50": latency(50),
        "p99": latency(99),
        "errors": int(non2xx.group(1)) if non2xx else 0,
        # CPU time per request of every process involved: less swayed by neighbours than req/s.
        "cpu_ms": 1000 * (server_after - server_before + wrk_cpu) / max(requests, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/indivillage_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    args = parser.parse_args()

    env = _env(args.database_url, args.redis_url)
    _seed(env, args.database_url, args.redis_url, args.scale)

    server = subprocess.Popen(
        [PY, "-m", "gunicorn", "config.wsgi:application", "--workers", "2", "--bind", f"127.0.0.1:{PORT}",
         "--log-level", "warning", "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(BASE + "/bench/baseline/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("gunicorn did not start")
        with urllib.request.urlopen(BASE + "/api/v1/services/") as response:
            etag = response.headers["ETag"]
        cases = {}
        with urllib.request.urlopen(BASE + "/api/v1/case-studies/?limit=20") as response:
            cases["rows"] = json.load(response)["count"]

        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            body = json.dumps({"name": "Bench Visitor", "email": "bench@example.com", "message": "Hello"})
            script.write(
                'wrk.method = "POST"\n'
                f"wrk.body = {json.dumps(body)}\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
        scenarios = [
            ("baseline JsonResponse", "/bench/baseline/", (), None),
            ("services/ cached", "/api/v1/services/", (), None),
            (
                "case-studies/?limit=20 uncached",
                "/api/v1/case-studies/?limit=20",
                ("Cache-Control: no-cache",),
                None,
            ),
            ("services/ 304 (If-None-Match)", "/api/v1/services/", (f"If-None-Match: {etag}",), None),
            ("submissions/contact/ POST", "/api/v1/submissions/contact/", (), script.name),
        ]
        print(
            f"Warm-up, then {args.rounds} rounds of {args.duration}s per scenario, wrk -t2 -c{args.connections}, "
            f"gunicorn 2 workers, {os.cpu_count()} cores; {cases['rows']} published case studies.\n"
        )
        _wrk("/bench/baseline/", 2, args.connections, server.pid)
        _wrk("/api/v1/services/", 2, args.connections, server.pid)
        rounds = []
        for _ in range(args.rounds):
            results = {
                name: _wrk(path, args.duration, args.connections, server.pid, headers, lua)
                for name, path, headers, lua in scenarios
            }
            base = results["baseline JsonResponse"]
            for r in results.values():
                r["ratio"] = r["rps"] / base["rps"]
                r["cpu_ratio"] = base["cpu_ms"] / r["cpu_ms"]
            results["services/ 304 (If-None-Match)"]["vs_cached"] = (
                results["services/ 304 (If-None-Match)"]["rps"] / results["services/ cached"]["rps"]
            )
            rounds.append(results)

        def median(name, key):
            return statistics.median(r[name][key] for r in rounds)

        print(
            f"{'scenario':<34}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'x base':>8}{'non-2xx':>9}"
            f"{'CPU ms':>9}{'base/CPU':>10}   (medians)"
        )
        for name, *_ in scenarios:
            print(
                f"{name:<34}{median(name, 'rps'):>10.0f}{median(name, 'p50'):>9.2f}{median(name, 'p99'):>9.2f}"
                f"{median(name, 'ratio'):>8.2f}{sum(r[name]['errors'] for r in rounds):>9}"
                f"{median(name, 'cpu_ms'):>9.3f}{median(name, 'cpu_ratio'):>10.2f}"
            )
        per_round = ", ".join(
            f"{r['services/ cached']['ratio']:.2f}/{r['case-studies/?limit=20 uncached']['ratio']:.2f}"
            for r in rounds
        )
        print(f"\nper round (cached/uncached x base): {per_round}")
        per_round_cpu = ", ".join(
            f"{r['services/ cached']['cpu_ratio']:.2f}/{r['case-studies/?limit=20 uncached']['cpu_ratio']:.2f}"
            for r in rounds
        )
        print(f"per round (cached/uncached base/CPU): {per_round_cpu}")
        print(
            "CPU ms: CPU time per request of gunicorn, PostgreSQL, Redis and wrk together (/proc); base/CPU:\n"
            "the baseline's CPU per request over the scenario's. The targets are the req/s ratios."
        )
        targets = [
            ("cached list >= 0.7 x baseline", median("services/ cached", "ratio"), 0.7),
            ("uncached list >= 0.4 x baseline", median("case-studies/?limit=20 uncached", "ratio"), 0.4),
            ("304 >= cached 200", median("services/ 304 (If-None-Match)", "vs_cached"), 1.0),
        ]
        for label, ratio, target in targets:
            print(f"{label:<36} {ratio:5.2f}  {'met' if ratio >= target else 'NOT met'}")
    finally:
        server.terminate()
        server.wait(timeout=10)
        subprocess.run(["redis-cli", "-u", args.redis_url, "FLUSHDB"], capture_output=True)


if __name__ == "__main__":
    main()
