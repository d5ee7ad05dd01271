"""
The media library's renditions of a 24-megapixel JPEG, side by side with Pillow's own `thumbnail`.

Writes a deterministic 6000 × 4000 photograph-like JPEG (gradients under noise, quality 90, with EXIF)
in a temporary folder, then measures in fresh child processes, so that each peak RSS belongs to one
measurement only:

    pillow      Image.open + thumbnail((1200, 1200)) + save as JPEG: one size, one format, the floor
    renditions  content.images.renditions_make: every width of IMAGE_RENDITION_WIDTHS (400 and 1200)
                in WebP and JPEG, metadata dropped, orientation applied

The machine is shared (a VM with noisy neighbours): each round runs both back to back, each ratio is
taken within its round, and the median over rounds is what counts. Prints the time and peak RSS of each
and the targets: pillow/renditions time >= 0.5 (renditions at most twice Pillow's one thumbnail), peak
RSS of the renditions < 300 MB.

    python bench/images.py [--rounds 5] [--keep]
"""

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# bench/ is this script's folder, first on sys.path.
from children import peak_rss_kib, run_child, verdict

ROOT = Path(__file__).resolve().parent.parent
RATIO_TARGET = 0.5
RSS_TARGET_MB = 300
WIDTH, HEIGHT = 6000, 4000


def generate(path: Path) -> int:
    from PIL import Image

    gradient = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
    noise = Image.effect_noise((WIDTH, HEIGHT), 40).convert("RGB")
    photo = Image.blend(gradient, noise, 0.3)
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"
    photo.save(path, "JPEG", quality=90, exif=exif.tobytes())
    return path.stat().st_size


def child(mode: str, path: str) -> None:
    """One measurement in this fresh process; prints JSON on stdout."""
    from PIL import Image

    if mode == "renditions":
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from content.images import renditions_make
    before = peak_rss_kib()
    wall = time.perf_counter()
    if mode == "pillow":
        with Image.open(path) as image:
            image.thumbnail((1200, 1200))
            buffer = io.BytesIO()
            image.save(buffer, "JPEG")
        made = [
            {"width": image.width, "height": image.height, "format": "jpeg", "bytes": len(buffer.getvalue())}
        ]
    else:
        made = [
            {"width": r.width, "height": r.height, "format": r.format, "bytes": len(r.data)}
            for r in renditions_make(path, "jpeg")
        ]
    wall = time.perf_counter() - wall
    print(json.dumps({"wall": wall, "rss_before": before, "rss_peak": peak_rss_kib(), "made": made}))


def measure(mode: str, path: Path) -> dict:
    return run_child(__file__, mode, str(path), cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the generated JPEG")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-images-"))
    path = folder / "photo-24mp.jpg"
    size = generate(path)
    print(f"{path.name}: {WIDTH} × {HEIGHT} ({WIDTH * HEIGHT / 1e6:.0f} MP), {size / 1e6:.1f} MB")
    ratios, peaks = [], []
    for round_number in range(1, args.rounds + 1):
        pillow, renditions = measure("pillow", path), measure("renditions", path)
        ratio = pillow["wall"] / renditions["wall"]
        ratios.append(ratio)
        peaks.append(renditions["rss_peak"] / 1024)
        print(
            f"round {round_number}: pillow thumbnail {pillow['wall'] * 1000:6.0f} ms "
            f"(peak RSS {pillow['rss_peak'] / 1024:5.1f} MB)   renditions {renditions['wall'] * 1000:6.0f} ms "
            f"(peak RSS {renditions['rss_peak'] / 1024:5.1f} MB, before {renditions['rss_before'] / 1024:5.1f})   "
            f"ratio {ratio:.2f}"
        )
    print(
        "renditions made: "
        + ", ".join(
            f"{r['width']}×{r['height']} {r['format']} {r['bytes'] / 1e3:.0f} kB" for r in renditions["made"]
        )
    )
    median = statistics.median(ratios)
    print(
        f"time ratio pillow/renditions, median of {args.rounds}: {median:.2f} (target >= {RATIO_TARGET}: {verdict(median >= RATIO_TARGET)})"
    )
    print(
        f"renditions peak RSS, worst: {max(peaks):.1f} MB (target < {RSS_TARGET_MB} MB: {verdict(max(peaks) < RSS_TARGET_MB)})"
    )
    if not args.keep:
        path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
