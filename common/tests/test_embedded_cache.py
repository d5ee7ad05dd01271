"""
The embedded mode (`make run`: SQLite, no other service) as a newcomer runs it: the development server in
one process and manage.py commands in others share one cache, so a command's change shows on the
server's pages at once, and `warm_cache` fills the cache the server reads.
"""

import json
import subprocess
import sys
import urllib.request

from common.testing.stack import ROOT, embedded_env, free_port, wait_until


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def _slugs(port: int, path: str) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return [row["slug"] for row in json.load(response)["results"]]


def _up(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
        return True
    except OSError:
        return False


SHELL_UNPUBLISH = """
from content.publishing import publishable_unpublish
from content.models import Service
publishable_unpublish(instance=Service.objects.get(slug="shell-made"), actor=None)
"""

SHELL_PUBLISH = """
from content.publishing import content_save
from content.models import Service
content_save(instance=Service(name="Shell made", slug="shell-made", description="x", status="published",
             published_at="2020-01-01T00:00:00Z"), actor=None)
"""

SHELL_STORED = """
from django.test import RequestFactory
from common.caching import _Lookup
lookup = _Lookup(RequestFactory().get("/api/v1/impact-stories/"))
print("stored" if lookup.stored else "missing")
"""


def test_the_dev_server_and_commands_share_one_cache(tmp_path):
    env = embedded_env(var_dir=tmp_path / "var")
    _manage(env, "migrate", "--noinput", "-v0")
    _manage(env, "shell", "-c", SHELL_PUBLISH)
    port = free_port()
    log = tmp_path / "runserver.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: _up(port), within=60, what="the development server answers", log=log)
        assert _slugs(port, "/api/v1/services/") == ["shell-made"]  # now stored by the server

        _manage(env, "shell", "-c", SHELL_UNPUBLISH)
        assert _slugs(port, "/api/v1/services/") == [], "the server still serves the page from before"

        _manage(env, "bootstrap")
        _manage(env, "seed_demo")
        assert len(_slugs(port, "/api/v1/case-studies/")) == 5

        assert _manage(env, "shell", "-c", SHELL_STORED).split()[-1] == "missing"
        assert "Warmed" in _manage(env, "warm_cache")
        assert _manage(env, "shell", "-c", SHELL_STORED).split()[-1] == "stored"
    finally:
        server.terminate()
        server.wait(timeout=10)
