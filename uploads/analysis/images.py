"""PNG and JPEG images: size, mode and frames, and data hidden after the image's end."""

import logging
import math
import os
import re
import warnings

from django.conf import settings

from .registry import AnalysisError, register
from .shared import n

logger = logging.getLogger(__name__)

# JPEG data is searched for its markers in blocks of this many bytes.
IMAGE_SCAN_BYTES = 64 * 1024


# --- Images -----------------------------------------------------------------------------------------

_MODES = {
    "1": "black and white",
    "L": "greyscale",
    "LA": "greyscale with transparency",
    "I;16": "16-bit greyscale",
    "P": "palette colour",
    "PA": "palette colour with transparency",
    "RGB": "RGB colour",
    "RGBA": "RGB colour with transparency",
    "CMYK": "CMYK colour",
    "YCbCr": "YCbCr colour",
}


def _analyse_image(path: str, fmt: str) -> tuple[str, dict]:
    from PIL import Image, UnidentifiedImageError

    limit = settings.UPLOAD_MAX_IMAGE_PIXELS
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            # Between the limit and twice it Pillow only warns: here that is a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                # Only the decoder the sniffer chose: a file cannot reach any other through this door.
                with Image.open(path, formats=[fmt]) as image:
                    width, height = image.size
                    mode = image.mode
                    frames = getattr(image, "n_frames", 1)
                    if fmt == "PNG":
                        image.verify()  # chunk structure and CRCs up to IEND, without decoding pixels
                    else:
                        # JPEG has no verify(); decoding at 1/8 scale reads every byte of the scan
                        # for a fraction of the memory and time of the full image.
                        image.draft(image.mode, (max(1, math.ceil(width / 8)), max(1, math.ceil(height / 8))))
                        image.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
                pixels = re.search(r"\((\d+) pixels\)", str(error))
                claimed = f" ({int(pixels.group(1)):,} pixels)" if pixels else ""
                raise AnalysisError(
                    f"The image is larger{claimed} than the {limit:,} pixels that can be analysed, "
                    "a possible decompression bomb."
                ) from None
            except UnidentifiedImageError:
                raise AnalysisError(f"The file is not a readable {fmt} image.") from None
            except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:
                logger.info("Damaged %s image: %r", fmt, error)
                raise AnalysisError(f"The {fmt} image is damaged or truncated.") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    with open(path, "rb") as handle:
        end = _png_end(handle) if fmt == "PNG" else _jpeg_end(handle)
    trailing = max(0, os.stat(path).st_size - end)
    details = {
        "format": fmt,
        "width": width,
        "height": height,
        "mode": mode,
        "frames": frames,
        "trailing_bytes": trailing,
    }
    summary = f"A {fmt} image of {width:,} × {height:,} pixels in {_MODES.get(mode, mode + ' mode')}"
    if frames > 1:
        summary += f", holding {frames:,} frames"
    summary += "."
    if trailing:
        summary += (
            f" Flagged: {n(trailing, 'byte')} follow{'s' if trailing == 1 else ''} the end of the image "
            f"(the {'IEND chunk' if fmt == 'PNG' else 'EOI marker'}), where data can hide another file "
            "(a polyglot)."
        )
    return summary, details


def _png_end(handle) -> int:
    """Where the PNG ends: just past its IEND chunk (verify() has checked every chunk up to it)."""
    handle.seek(8)
    while len(head := handle.read(8)) == 8:
        handle.seek(int.from_bytes(head[:4], "big") + 4, os.SEEK_CUR)  # the data, then the CRC
        if head[4:] == b"IEND":
            return handle.tell()
    return handle.tell()


def _jpeg_end(handle) -> int:
    """
    Where the JPEG ends: just past its EOI marker. Segments are skipped by their length, so an EXIF
    thumbnail's own EOI (inside APP1) is not taken for the image's; between them, entropy-coded data is
    scanned for the next real marker.
    """
    at = 2  # past SOI
    while (found := _jpeg_next_marker(handle, at)) is not None:
        code, at = found
        if code == 0xD9:  # EOI
            return at
        if code != 0x01:  # every marker but TEM (and the RSTn skipped already) has a length
            handle.seek(at)
            at += int.from_bytes(handle.read(2), "big")
    return handle.seek(0, os.SEEK_END)  # no EOI: Pillow refuses that as truncated before this runs


# A marker: 0xFF then anything but 0x00 (stuffing), 0xD0-0xD7 (restarts) or 0xFF (fill).
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg_next_marker(handle, at: int) -> tuple[int, int] | None:
    """The next marker from `at` (its code and the offset past it); None at the end of the file."""
    while True:
        handle.seek(at)
        block = handle.read(IMAGE_SCAN_BYTES)
        if match := _JPEG_MARKER.search(block):
            return block[match.start() + 1], at + match.end()
        if len(block) < IMAGE_SCAN_BYTES:
            return None
        # A 0xFF ending the block is read again with the byte after it.
        at += len(block) - block.endswith(b"\xff")


@register("png")
def analyse_png(path: str) -> tuple[str, dict]:
    return _analyse_image(path, "PNG")


@register("jpeg")
def analyse_jpeg(path: str) -> tuple[str, dict]:
    return _analyse_image(path, "JPEG")
