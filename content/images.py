"""
Images of the media library: the checks an upload passes before it is kept (the sample-data uploads'
own: content sniffing, a size and a pixel limit, decompression bombs refused, the virus scan), and the
renditions the site shows, re-encoded from the pixels alone so that no metadata (camera, GPS position,
comments) of the original ever reaches a public file.

Renditions are made with Pillow directly rather than through django-imagekit or easy-thumbnails: both
make one size per call from the decoded original, where these are made in one pass from a JPEG decoded
at the smallest scale that still covers the largest width (Pillow's `draft`), each size from the one
above it. bench/images.py measures it against Pillow's own `thumbnail` (docs/performance.md).
"""

import io
import math
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image as Pillow
from PIL import ImageOps, UnidentifiedImageError

from uploads.scanning import ScanError, scan_file
from uploads.sniffing import Refused, sniff

# The kinds the sniffer tells apart that the library takes, and Pillow's decoder for each: a file is
# only ever opened with the decoder of what it was sniffed as.
DECODERS = {"jpeg": "JPEG", "png": "PNG"}
# (format, Pillow's name, options): WebP for browsers that take it, JPEG for every other.
ENCODINGS = (
    ("webp", "WEBP", {"quality": 82, "method": 4}),
    ("jpeg", "JPEG", {"quality": 82, "progressive": True}),
)


class ImageRefused(Exception):
    """An upload that is not kept, with the reason in words an editor can act on."""


@dataclass
class Checked:
    kind: str  # "jpeg" or "png"
    width: int
    height: int


@dataclass
class Rendition:
    width: int
    height: int
    format: str
    data: bytes


def image_check(path, filename: str) -> Checked:
    """The upload at `path` if it is a PNG or JPEG within the limits and clean; else ImageRefused."""
    try:
        kind = sniff(path, filename).kind
    except Refused as error:
        raise ImageRefused(str(error)) from None
    if kind not in DECODERS:
        raise ImageRefused("Only PNG and JPEG images can be added to the library.")
    width, height = _dimensions(path, kind)
    try:
        result = scan_file(path)
    except ScanError as error:
        raise ImageRefused(
            f"The virus scan could not be completed ({error}); try again in a minute."
        ) from None
    if result.infected:
        raise ImageRefused(f"The file carries malware ({result.signature}) and was not kept.")
    return Checked(kind=kind, width=width, height=height)


def _dimensions(path, kind: str) -> tuple[int, int]:
    limit = settings.IMAGE_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Pillow.DecompressionBombWarning)
            # The header only: the size is known before a single pixel is decoded.
            with Pillow.open(path, formats=[DECODERS[kind]]) as image:
                width, height = image.size
    except (Pillow.DecompressionBombError, Pillow.DecompressionBombWarning):
        raise ImageRefused(
            f"The image is larger than {limit:,} pixels: a possible decompression bomb."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageRefused(f"The file is not a readable {kind.upper()} image ({error}).") from None
    if width * height > limit:
        raise ImageRefused(
            f"The image is {width} × {height} ({width * height:,} pixels); the limit is {limit:,} pixels."
        )
    return width, height


def renditions_make(path, kind: str, widths: tuple[int, ...] | None = None) -> list[Rendition]:
    """
    Each width (never wider than the image) in every encoding, from the pixels alone: EXIF orientation
    applied, then every chunk of metadata dropped. The JPEG is decoded once, at the smallest scale that
    covers the largest width, and each width is made from the one above it.
    """
    widths = sorted(set(widths or settings.IMAGE_RENDITION_WIDTHS), reverse=True)
    with Pillow.open(path, formats=[DECODERS[kind]]) as source:
        width, height = source.size
        largest = min(widths[0], width)
        if kind == "jpeg":
            source.draft("RGB", (largest, math.ceil(height * largest / width)))
        image = ImageOps.exif_transpose(source)
        image.load()
    # Pillow writes some of `info` back when saving (a JPEG's comment, for one): the pixels only.
    image.info = {}
    made, current = [], image
    for target in widths:
        target = min(target, current.width)
        if target < current.width:
            size = (target, max(1, round(current.height * target / current.width)))
            current = current.resize(size, Pillow.Resampling.LANCZOS, reducing_gap=3.0)
        if any(r.width == current.width for r in made):
            continue  # an image narrower than two widths: one rendition, not two equal ones
        for name, encoder, options in ENCODINGS:
            made.append(Rendition(current.width, current.height, name, _encode(current, encoder, options)))
    return made


def _encode(image: Pillow.Image, encoder: str, options: dict) -> bytes:
    if encoder == "JPEG" and image.mode not in ("RGB", "L"):
        # JPEG has no transparency: what is see-through shows on white, as on the site's pages.
        rgba = image.convert("RGBA")
        flat = Pillow.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif encoder == "WEBP" and image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode or image.mode == "P" else "RGB")
    buffer = io.BytesIO()
    # No exif=, icc_profile= or pnginfo: a new file holds the pixels and nothing else.
    image.save(buffer, encoder, **options)
    return buffer.getvalue()
