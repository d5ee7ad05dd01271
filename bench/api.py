"""
API throughput on loopback, side by side with a bare JsonResponse on the same server.

Seeds PostgreSQL with `seed_demo --scale`, starts gunicorn (2 workers) on production settings with
Redis, and nginx with deploy/nginx/indivillage.conf in front of it, and loads them with wrk for: the
baseline; /api/v1/case-studies/?limit=20 cached (a 200 from the app's cache), its 304 (If-None-Match),
and uncached (`Cache-Control: no-cache` makes the view run every time); the plain path, the same list
filtered by an industry (the FilterSet), uncached; the cached list through nginx's cache; and
contact-form POSTs. Prints req/s, p50 and p99 for each, each throughput as a ratio to the baseline, and
the issue's targets, met or not.

The machine is shared (a VM with noisy neighbours): every round runs the baseline and every scenario
back to back, each ratio is taken against its own round's baseline, and the median over rounds is
what counts. Beside each rate it prints the CPU time per request of every process involved
(gunicorn, nginx, PostgreSQL, Redis, wrk, read from /proc): where the cost is, and whether the two
cores were the limit (req/s close to 2 / CPU time). It moves with the rates from round to round (a busy
neighbour slows the CPU itself), so it explains a noisy run but does not remove the noise;
bench/instructions.py does, for the Django process alone.

    python bench/api.py [--port 8097] [--database-url URL] [--redis-url URL] [--scale 20]
                        [--duration 5] [--rounds 3] [--connections 16]

Needs: wrk and nginx (Debian), PostgreSQL and Redis on loopback. The database (dropped and created
again) and the Redis db (flushed) are the ones given: never point them at anything you keep. A busy
--port is refused (exit 2) before either is touched; nginx takes a free port of its own.
"""

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(ROOT))
from common.testing.stack import Nginx  # noqa: E402 - once the project is on the path

BASELINE = "baseline JsonResponse"
CACHED = "case-studies/?limit=20 cached"
NOT_MODIFIED = "case-studies/?limit=20 304"
UNCACHED = "case-studies/?limit=20 uncached"
PLAIN = "plain path ?industry= uncached"
NGINX = "through nginx's cache"
POST = "submissions/contact/ POST"
LIST = "/api/v1/case-studies/?limit=20"
NO_CACHE = ("Cache-Control: no-cache",)


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
        # No upload is benchmarked here: production settings need a scanner or this decision.
        "CLAMAV_DISABLED": "true",
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


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _cpu_seconds(server_pids: tuple[int, ...]) -> float:
    """CPU time so far of gunicorn and nginx (masters and workers), PostgreSQL (every process), Redis."""
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
        ours = int(entry.name) in server_pids or int(fields[1]) in server_pids
        if ours or name in ("postgres", "redis-server"):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _wrk(
    url: str, seconds: int, connections: int, server_pids: tuple, headers=(), script: str | None = None
) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    server_before, wrk_before = _cpu_seconds(server_pids), resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    server_after, wrk_after = _cpu_seconds(server_pids), resource.getrusage(resource.RUSAGE_CHILDREN)
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


def _get(url: str, headers: dict | None = None):
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30)  # noqa: S310


def _wait_for(url: str, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            sys.exit(f"gunicorn exited:\n{server.stderr.read().decode()[-3000:]}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("gunicorn did not start in 30 s")


def _scenarios(base: str, nginx_base: str, etag: str, industry: str, post_script: str) -> list:
    """(name, URL, request headers, wrk script) of every scenario, the baseline first."""
    return [
        (BASELINE, base + "/bench/baseline/", (), None),
        (CACHED, base + LIST, (), None),
        (NOT_MODIFIED, base + LIST, (f"If-None-Match: {etag}",), None),
        (UNCACHED, base + LIST, NO_CACHE, None),
        (PLAIN, f"{base}{LIST}&industry={industry}", NO_CACHE, None),
        (NGINX, nginx_base + LIST, (), None),
        (POST, base + "/api/v1/submissions/contact/", (), post_script),
    ]


def _round(scenarios: list, args, pids: tuple) -> dict:
    results = {
        name: _wrk(url, args.duration, args.connections, pids, headers, lua)
        for name, url, headers, lua in scenarios
    }
    base = results[BASELINE]
    for r in results.values():
        r["ratio"] = r["rps"] / base["rps"]
        r["cpu_ratio"] = base["cpu_ms"] / r["cpu_ms"]
    results[NOT_MODIFIED]["vs_cached"] = results[NOT_MODIFIED]["rps"] / results[CACHED]["rps"]
    return results


def _report(scenarios: list, rounds: list) -> None:
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
    shown = (CACHED, UNCACHED, PLAIN, NGINX)
    per_round = ", ".join("/".join(f"{r[name]['ratio']:.2f}" for name in shown) for r in rounds)
    print(f"\nper round (cached/uncached/plain/nginx x base): {per_round}")
    per_round_cpu = ", ".join("/".join(f"{r[name]['cpu_ratio']:.2f}" for name in shown) for r in rounds)
    print(f"per round (cached/uncached/plain/nginx base/CPU): {per_round_cpu}")
    print(
        "CPU ms: CPU time per request of gunicorn, nginx, PostgreSQL, Redis and wrk together (/proc);\n"
        "base/CPU: the baseline's CPU per request over the scenario's. The targets are the req/s ratios.\n"
    )
    targets = [
        ("cached list >= 0.7 x baseline", median(CACHED, "ratio"), 0.7),
        ("304 >= 1.0 x cached 200", median(NOT_MODIFIED, "vs_cached"), 1.0),
        ("uncached list >= 0.3 x baseline", median(UNCACHED, "ratio"), 0.3),
        ("plain path >= 0.15 x baseline", median(PLAIN, "ratio"), 0.15),
        ("through nginx's cache >= 5 x baseline", median(NGINX, "ratio"), 5.0),
    ]
    for label, ratio, target in targets:
        print(f"{label:<40} {ratio:6.2f}  {'met' if ratio >= target else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8097, help="gunicorn's loopback port (must be free)")
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/indivillage_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    args = parser.parse_args()
    if not _port_is_free(args.port):
        print(f"port {args.port} is in use on 127.0.0.1: choose a free one with --port", file=sys.stderr)
        sys.exit(2)

    env = _env(args.database_url, args.redis_url)
    _seed(env, args.database_url, args.redis_url, args.scale)
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [PY, "-m", "gunicorn", "config.wsgi:application", "--workers", "2", "--bind", f"127.0.0.1:{args.port}",
         "--log-level", "warning", "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    nginx = None
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as nginx_dir:
        try:
            _wait_for(base + "/bench/baseline/", server)
            # Two workers, as gunicorn has; the access log goes to /dev/null, as gunicorn's does.
            nginx = Nginx(Path(nginx_dir), f"127.0.0.1:{args.port}", workers=2, access_log="/dev/null")
            nginx.start()
            with _get(base + LIST) as response:
                etag = response.headers["ETag"]
                listing = json.load(response)
            industry = listing["results"][0]["industry"]["slug"]
            with _get(f"{base}{LIST}&industry={industry}", {"Cache-Control": "no-cache"}) as response:
                filtered = json.load(response)["count"]
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                body = json.dumps({"name": "Bench Visitor", "email": "bench@example.com", "message": "Hello"})
                script.write(
                    'wrk.method = "POST"\n'
                    f"wrk.body = {json.dumps(body)}\n"
                    'wrk.headers["Content-Type"] = "application/json"\n'
                )
            scenarios = _scenarios(base, nginx.base_url, etag, industry, script.name)
            pids = (server.pid, nginx.process.pid)
            print(
                f"Warm-up, then {args.rounds} rounds of {args.duration}s per scenario, wrk -t2 -c{args.connections}, "
                f"gunicorn 2 workers, nginx 2 workers, {os.cpu_count()} cores; {listing['count']} published "
                f"case studies, {filtered} in industry {industry}.\n"
            )
            for _, url, headers, _ in scenarios[:-1]:
                _wrk(url, 1, args.connections, pids, headers)
            rounds = [_round(scenarios, args, pids) for _ in range(args.rounds)]
            _report(scenarios, rounds)
        finally:
            if nginx is not None:
                nginx.stop()
            server.terminate()
            server.wait(timeout=10)
            subprocess.run(["redis-cli", "-u", args.redis_url, "FLUSHDB"], capture_output=True)


if __name__ == "__main__":
    main()
