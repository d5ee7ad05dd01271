"""
Instructions per request, in-process, counted by valgrind's callgrind: the figure that a noisy machine
cannot move. bench/api.py measures throughput, which is what the targets are about, but on a shared VM
its rounds swing by a third; this counts the CPU instructions the Django process itself executes for
one request of each scenario (the server's own work: PostgreSQL, Redis and the HTTP server are not
counted), the same count on every run of the same code and data.

With --ref it counts a second version of the code (a git revision, checked out in a temporary worktree)
against the same database and Redis, so a change can be compared with what it replaces.

    python bench/instructions.py [--ref HEAD] [--requests 100] [--seed]

The database is bench/api.py's (`indivillage_bench`); --seed creates and seeds it the same way first.
Each scenario runs in its own `valgrind --tool=callgrind` child, warms up with 50 requests
uninstrumented, and is counted over --requests requests. Needs valgrind (Debian) and takes about 20 s
per scenario and version.
"""

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (path, query string, extra WSGI environ): bench/api.py's scenarios that run in one process
# (nginx's is not one). {industry} is the industry of the first case study listed.
SCENARIOS = {
    "baseline JsonResponse": ("/bench/baseline/", "", {}),
    "case-studies/?limit=20 cached": ("/api/v1/case-studies/", "limit=20", {}),
    "case-studies/?limit=20 304": ("/api/v1/case-studies/", "limit=20", {"HTTP_IF_NONE_MATCH": "etag"}),
    "case-studies/?limit=20 uncached": (
        "/api/v1/case-studies/",
        "limit=20",
        {"HTTP_CACHE_CONTROL": "no-cache"},
    ),
    "plain path ?industry= uncached": (
        "/api/v1/case-studies/",
        "limit=20&industry={industry}",
        {"HTTP_CACHE_CONTROL": "no-cache"},
    ),
}


def _child(scenario: str, requests: int) -> None:
    """Runs inside valgrind: warms up, then serves `requests` requests between two handshakes."""
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    path, query, extra = SCENARIOS[scenario]

    def call(more=None, path=path, query=query):
        environ = {
            "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
            **extra, **(more or {}),
        }  # fmt: skip
        status, headers = [], {}
        body = app(environ, lambda s, h, exc_info=None: (status.append(s), headers.update(h)))
        content = b"".join(body)
        body.close()
        return status[0], headers, content

    if "{industry}" in query:
        listing = json.loads(call({"HTTP_IF_NONE_MATCH": ""}, "/api/v1/case-studies/", "limit=1")[2])
        query = query.format(industry=listing["results"][0]["industry"]["slug"])

    status, headers, _ = call({"HTTP_IF_NONE_MATCH": ""}, path, query)
    if not status.startswith("200"):
        raise SystemExit(f"{path}?{query} answered {status}")
    if "HTTP_IF_NONE_MATCH" in extra:
        extra["HTTP_IF_NONE_MATCH"] = headers["ETag"]
    expected = "304" if "HTTP_IF_NONE_MATCH" in extra else "200"
    for _ in range(50):
        assert call(None, path, query)[0].startswith(expected)
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(requests):
        call(None, path, query)
    print("done", flush=True)
    sys.stdin.readline()


def _count(code: Path, scenario: str, requests: int, env: dict) -> int:
    with tempfile.TemporaryDirectory() as out:
        child = subprocess.Popen(
            # -P: the script's own folder (bench/, with its uploads.py) stays off sys.path, so the project
            # is imported from PYTHONPATH, i.e. from the version being counted.
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/cg.%p",
             sys.executable, "-P", str(ROOT / "bench" / "instructions.py"), "--child", scenario, str(requests)],
            cwd=code, env={**env, "PYTHONPATH": str(code)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            if child.stdout.readline().strip() != "ready":
                raise SystemExit(f"{scenario} did not start:\n{child.stderr.read()[-3000:]}")
            control = ["callgrind_control", str(child.pid)]
            subprocess.run([*control[:1], "-i", "on", *control[1:]], check=True, capture_output=True)
            child.stdin.write("go\n")
            child.stdin.flush()
            if child.stdout.readline().strip() != "done":
                raise SystemExit(f"{scenario} failed:\n{child.stderr.read()[-3000:]}")
            subprocess.run([*control[:1], "-i", "off", *control[1:]], check=True, capture_output=True)
            subprocess.run([*control[:1], "-d", *control[1:]], check=True, capture_output=True)
            child.stdin.write("end\n")
            child.stdin.flush()
            child.wait(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
        # The dump asked for holds the counted requests; the one written at exit holds nothing. The
        # header's `summary:` stays 0 when instrumentation starts late: `totals:` at the end counts.
        total = sum(
            int(line.split()[1])
            for dump in Path(out).iterdir()
            for line in dump.read_text().splitlines()
            if line.startswith("totals:")
        )
        return total // requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", help="a git revision to count as well, e.g. HEAD or HEAD~3")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--seed", action="store_true", help="create and seed indivillage_bench first")
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/indivillage_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "REQUESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.child[0], int(args.child[1]))

    # Imported here, not at the top: a counted child must import the project from its own PYTHONPATH.
    sys.path.insert(0, str(ROOT))
    from bench.api import _env, _seed

    env = _env(args.database_url, args.redis_url)
    if args.seed:
        _seed(env, args.database_url, args.redis_url, args.scale)

    versions = {"this tree": ROOT}
    worktree = None
    if args.ref:
        worktree = Path(tempfile.mkdtemp(prefix="instructions-ref-"))
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(worktree), args.ref], cwd=ROOT, check=True
        )
        versions[args.ref] = worktree
    started = time.monotonic()
    try:
        counts = {}
        for scenario in SCENARIOS:
            for label, code in versions.items():
                counts[scenario, label] = _count(code, scenario, args.requests, env)
                print(f"  {scenario:<34} {label:<12} {counts[scenario, label]:>12,}", flush=True)
    finally:
        if worktree:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)
    print(
        f"\nInstructions per request (callgrind, {args.requests} requests each, {time.monotonic() - started:.0f} s):"
    )
    labels = list(versions)
    header = f"{'scenario':<34}" + "".join(f"{label:>14}" for label in labels)
    base = counts["baseline JsonResponse", "this tree"]
    print(header + ("   this/ref" if args.ref else "") + "  base/this")
    for scenario in SCENARIOS:
        row = f"{scenario:<34}" + "".join(f"{counts[scenario, label]:>14,}" for label in labels)
        if args.ref:
            row += f"{counts[scenario, 'this tree'] / counts[scenario, args.ref]:>11.3f}"
        row += f"{base / counts[scenario, 'this tree']:>13.2f}"
        print(row)
    print(json.dumps({f"{s} | {v}": n for (s, v), n in counts.items()}))


if __name__ == "__main__":
    main()
