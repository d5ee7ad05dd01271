"""
What the benchmarks that measure in child processes share: each measurement runs in a fresh process, so
that the peak RSS it reports belongs to that measurement only.
"""

import json
import subprocess
import sys
from pathlib import Path


def peak_rss_kib() -> int:
    """This process's peak resident set size so far (VmHWM), in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_child(script: str, mode: str, *args: str, cwd: Path) -> dict:
    """Runs `script --child mode *args` and returns the JSON it printed last; exits on a failed child."""
    done = subprocess.run(
        [sys.executable, script, "--child", mode, *args], capture_output=True, text=True, check=False, cwd=cwd
    )
    if done.returncode:
        sys.exit(f"The {mode} child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"
