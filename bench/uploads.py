"""
CSV analysis throughput and memory, side by side with a bare csv.reader pass over the same file.

Generates a deterministic CSV of about 200 MB in a temporary folder (integer, decimal, date and text
columns, quoted fields with commas and quotes, empty cells, and one formula-looking cell every 50,000
rows), then measures in fresh child processes, so that each peak RSS belongs to one measurement only:

    bare     csv.reader over the file, counting rows: the floor any CSV analysis stands on
    analyse  uploads.analysis.analyse(path, "csv"), with Django set up for its settings

The machine is shared (a VM with noisy neighbours): each round runs both back to back, each ratio is
taken within its round, and the median over rounds is what counts. Prints the file size and rows, the
time, MB/s and peak RSS of each, and the targets: analyse/bare throughput >= 0.5, analyser peak RSS
< 150 MB.

    python bench/uploads.py [--size-mb 200] [--rounds 5] [--ref GIT_REV] [--keep]

--ref also measures the analyser of GIT_REV (a temporary `git worktree`) in every round, so that the
figures before and after a change come from one run.
"""

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# bench/ is this script's folder, first on sys.path.
from children import peak_rss_kib, run_child, verdict

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
RATIO_TARGET = 0.5
RSS_TARGET_MB = 150
FORMULA_EVERY = 50_000
HEADER = ["id", "customer", "city", "order_date", "quantity", "unit_price", "balance", "note"]
TYPES = ["integer", "text", "text", "date", "integer", "decimal", "decimal", "text"]
NAMES = ["Asha", "Ravi", "Meera", "Kiran", "Lakshmi", "Arjun", "Priya", "Vikram", "Divya", "Suresh"]
CITIES = ["Bengaluru", "Ramanagara", "Mysuru", "Chennai", "Hyderabad", "Pune", "Kolkata", "Delhi"]
NOTES = [
    "ok",
    "needs review",
    "duplicate of earlier entry",
    "label verified twice",
    "",
    "blurred image, re-annotate",
    'customer asked for a callback, "urgent"',
]
FORMULAS = [
    '=HYPERLINK("http://example.invalid","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
]


def quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value


def generate(path: Path, size: int) -> dict:
    """Blocks of rows built from pre-rendered values: seconds, not minutes, for 200 MB."""
    rnd = random.Random(20240601)
    customers = [f"{first} {last[0]}." for first in NAMES for last in NAMES]
    dates = [f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)]
    quantities = [str(q) for q in range(-5, 501)]
    prices = [f"{cents / 100:.2f}" for cents in range(0, 100_000, 7)]
    balances = [f"{cents / 100:.2f}" for cents in range(-500_000, 500_000, 37)]
    notes = [quoted(note) for note in NOTES]
    written = rows = formulas = empty_notes = 0
    block = 10_000
    with open(path, "w", encoding="utf-8", newline="") as handle:
        written += handle.write(",".join(HEADER) + "\n")
        while written < size:
            ids = [str(i) for i in range(rows + 1, rows + block + 1)]
            column_notes = rnd.choices(notes, k=block)
            for index in range(block):
                if (rows + index + 1) % FORMULA_EVERY == 0:
                    column_notes[index] = quoted(FORMULAS[formulas % len(FORMULAS)])
                    formulas += 1
            lines = map(
                ",".join,
                zip(
                    ids,
                    rnd.choices(customers, k=block),
                    rnd.choices(CITIES, k=block),
                    rnd.choices(dates, k=block),
                    rnd.choices(quantities, k=block),
                    rnd.choices(prices, k=block),
                    rnd.choices(balances, k=block),
                    column_notes,
                    strict=True,
                ),
            )
            written += handle.write("\n".join(lines) + "\n")
            rows += block
            empty_notes += column_notes.count("")
    return {
        "rows": rows,
        "columns": len(HEADER),
        "formulas": formulas,
        "nulls": [0] * (len(HEADER) - 1) + [empty_notes],
        "bytes": path.stat().st_size,
    }


def child(mode: str, path: str, root: str = str(ROOT)) -> None:
    """One measurement in this fresh process (the analyser of the code in `root`); prints JSON on stdout."""
    if mode == "analyse":
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
        sys.path.insert(0, root)
        import django

        django.setup()
        from uploads.analysis import analyse
    before = peak_rss_kib()
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "bare":
        rows = -1  # the header is not a row
        with open(path, encoding="utf-8", newline="") as handle:
            for _ in csv.reader(handle):
                rows += 1
        extra = {}
    else:
        result = analyse(path, "csv")
        rows = result.details["rows"]
        profiles = result.details["column_profiles"]
        extra = {
            "summary": result.summary,
            "formulas": result.details["formula_cells"],
            "types": [p["type"] for p in profiles],
            "nulls": [p["nulls"] for p in profiles],
        }
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        json.dumps(
            {
                "rows": rows,
                "wall": wall,
                "cpu": cpu,
                "rss_before": before,
                "rss_peak": peak_rss_kib(),
                **extra,
            }
        )
    )


def measure(mode: str, path: Path, root: Path = ROOT) -> dict:
    return run_child(__file__, mode, str(path), str(root), cwd=root)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the generated file in place")
    parser.add_argument("--ref", help="a git revision whose analyser is measured too, for the figures before")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)

    folder = tempfile.mkdtemp(prefix="bench-uploads-")
    path = Path(folder) / "sample.csv"
    ref_tree = None
    if args.ref:
        ref_tree = Path(folder) / "ref"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(ref_tree), args.ref], check=True
        )
    try:
        started = time.perf_counter()
        made = generate(path, int(args.size_mb * MB))
        size = made["bytes"]
        print(
            f"File: {size / MB:,.1f} MB ({size:,} bytes), {made['rows']:,} data rows x {made['columns']} columns "
            f"(integer, text, date, decimal), {made['formulas']} formula-looking cells; generated in "
            f"{time.perf_counter() - started:.1f} s"
        )
        rounds, ref_rounds = [], []
        for number in range(1, args.rounds + 1):
            bare, analysed = measure("bare", path), measure("analyse", path)
            for name, figures in (("bare", bare), ("analyse", analysed)):
                if figures["rows"] != made["rows"]:
                    sys.exit(f"{name} counted {figures['rows']:,} rows, the file has {made['rows']:,}")
            # The analysis did all it claims: every figure matches what was generated.
            expected = (made["formulas"], TYPES, made["nulls"])
            if (analysed["formulas"], analysed["types"], analysed["nulls"]) != expected:
                sys.exit(f"analyse found {analysed}, the file has {expected}")
            ratio = bare["wall"] / analysed["wall"]
            rounds.append((bare, analysed, ratio))
            if ref_tree is not None:
                before = measure("analyse", path, ref_tree)
                ref_rounds.append(bare["wall"] / before["wall"])
                print(
                    f"round {number}: analyse at {args.ref} {before['wall']:.2f} s, peak RSS "
                    f"{before['rss_peak'] / 1024:.1f} MiB | ratio {ref_rounds[-1]:.3f}"
                )
            print(
                f"round {number}: bare {bare['wall']:.2f} s ({size / MB / bare['wall']:.1f} MB/s, "
                f"cpu {bare['cpu']:.2f} s, peak RSS {bare['rss_peak'] / 1024:.1f} MiB) | "
                f"analyse {analysed['wall']:.2f} s ({size / MB / analysed['wall']:.1f} MB/s, "
                f"cpu {analysed['cpu']:.2f} s, peak RSS {analysed['rss_peak'] / 1024:.1f} MiB) | "
                f"ratio {ratio:.3f}"
            )

        bare_wall = statistics.median(b["wall"] for b, _, _ in rounds)
        analyse_wall = statistics.median(a["wall"] for _, a, _ in rounds)
        ratio = statistics.median(r for _, _, r in rounds)
        cpu_ratio = statistics.median(b["cpu"] / a["cpu"] for b, a, _ in rounds)
        # RSS in MB of 10^6 bytes, as the target is written; the worst round counts.
        peak = max(a["rss_peak"] for _, a, _ in rounds) * 1024 / MB
        before = max(a["rss_before"] for _, a, _ in rounds) * 1024 / MB
        print(f"Analyser summary: {rounds[-1][1]['summary']}")
        print(
            f"Rows: {made['rows']:,} (both passes agree); the analyser's types, null counts and "
            f"{made['formulas']} formula cells match the generated file"
        )
        print(f"bare csv.reader: median {bare_wall:.2f} s, {size / MB / bare_wall:.1f} MB/s")
        print(f"analyse(csv):    median {analyse_wall:.2f} s, {size / MB / analyse_wall:.1f} MB/s")
        print(
            f"Throughput ratio analyse/bare (median of {len(rounds)} rounds): {ratio:.3f} "
            f"(target >= {RATIO_TARGET}): {verdict(ratio >= RATIO_TARGET)}"
        )
        if ref_rounds:
            print(
                f"Throughput ratio of the analyser at {args.ref} (median, same rounds): {statistics.median(ref_rounds):.3f}"
            )
        print(
            f"CPU-time ratio analyse/bare (median, for reference: less swayed by other load): {cpu_ratio:.3f}"
        )
        print(
            f"Analyser peak RSS: {peak:.1f} MB, of which {before:.1f} MB before analysing (Python and "
            f"Django) (target < {RSS_TARGET_MB} MB): {verdict(peak < RSS_TARGET_MB)}"
        )
    finally:
        if ref_tree is not None:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref_tree)], check=True
            )
        if args.keep:
            print(f"Kept {path}")
        else:
            path.unlink(missing_ok=True)
            os.rmdir(folder)


if __name__ == "__main__":
    main()
