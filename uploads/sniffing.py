"""
What a file is, decided from its bytes. The client's extension and Content-Type are only checked for
agreement: a name that says one kind over content of another is refused, and so is every kind that can
carry code (executables, HTML, SVG) and every archive but an Excel workbook within its limits.
"""

import csv
import json
import os
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings

HEAD_BYTES = 64 * 1024

MIME_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "text": "text/plain",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "jpeg": "image/jpeg",
}
KIND_OF_MIME = {mime: kind for kind, mime in MIME_TYPES.items()}
TEXT_KINDS = {"csv", "tsv", "json", "ndjson", "text"}

# What each known extension may hold, and the kind it then is: among text kinds the name decides (a
# one-column CSV looks like plain text), between families the content does.
EXTENSIONS = {
    ".csv": ({"csv", "text"}, "csv"),
    ".tsv": ({"tsv", "text"}, "tsv"),
    ".tab": ({"tsv", "text"}, "tsv"),
    ".json": ({"json"}, "json"),
    ".ndjson": ({"ndjson", "json"}, "ndjson"),
    ".jsonl": ({"ndjson", "json"}, "ndjson"),
    ".txt": (TEXT_KINDS, "text"),
    ".text": (TEXT_KINDS, "text"),
    ".log": (TEXT_KINDS, "text"),
    ".md": (TEXT_KINDS, "text"),
    ".xlsx": ({"xlsx"}, "xlsx"),
    ".png": ({"png"}, "png"),
    ".jpg": ({"jpeg"}, "jpeg"),
    ".jpeg": ({"jpeg"}, "jpeg"),
}
DESCRIPTIONS = {
    "csv": "a CSV table",
    "tsv": "a TSV table",
    "json": "JSON",
    "ndjson": "newline-delimited JSON",
    "text": "plain text",
    "xlsx": "an Excel workbook",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
}

_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O (and Java class files)
    b"#!",
    b"\x00asm",  # WebAssembly
)
_ARCHIVE_MAGIC = (
    b"\x1f\x8b",  # gzip
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\x28\xb5\x2f\xfd",  # zstd
    b"PK\x05\x06",  # empty zip
    b"MSCF",  # cab
)
_MARKUP = ("<!doctype html", "<html", "<svg", "<script", "<iframe", "<body", "<head")


class Refused(Exception):
    """A file the intake will not take. `code` is machine-readable, the message is for the client."""

    def __init__(self, message: str, *, code: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Sniffed:
    kind: str

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.kind]


def sanitize_filename(name: str, *, max_length: int = 200) -> str:
    """
    The client's name made harmless for display: no folders, no control or direction-override
    characters, no leading dots, a sane length with the extension kept. Storage never uses it.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    if not name:
        return "upload"
    if len(name) > max_length:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext) <= 16 else ""
        name = stem[: max_length - len(ext)].rstrip(" .") + ext
    return name


def sniff(path: str | os.PathLike, filename: str) -> Sniffed:
    """The kind of the file at `path`, or Refused saying why not."""
    size = os.path.getsize(path)
    if size == 0:
        raise Refused("The file is empty.", code="empty_file")
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    kind = _content_kind(path, head, whole=size <= HEAD_BYTES)
    kind = _reconcile(kind, filename)
    if kind not in settings.UPLOAD_ALLOWED_KINDS:
        raise Refused(
            f"Files of this kind ({DESCRIPTIONS[kind]}) are not accepted.",
            code="type_not_allowed",
            status=415,
        )
    return Sniffed(kind)


def _content_kind(path, head: bytes, *, whole: bool) -> str:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if head.startswith(_EXECUTABLE_MAGIC):
        raise Refused("Executable files and scripts are not accepted.", code="executable", status=415)
    if head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar":
        raise Refused(
            "Archives are not accepted: upload the files themselves (Excel workbooks are fine).",
            code="archive",
            status=415,
        )
    text = _decode(head)
    if text is None:
        raise Refused(
            "This is a binary file of a kind that is not accepted.", code="type_not_allowed", status=415
        )
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if any(marker in lowered[:2048] for marker in _MARKUP) or (
        lowered.startswith("<?xml") and "<svg" in lowered
    ):
        raise Refused(
            "HTML, SVG and other markup can carry scripts and is not accepted.", code="markup", status=415
        )
    if lowered.startswith("%pdf") or lowered.startswith("{\\rtf"):
        raise Refused("Documents of this kind are not accepted.", code="type_not_allowed", status=415)
    return _text_kind(text, whole=whole)


def _zip_kind(path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > settings.UPLOAD_MAX_ARCHIVE_ENTRIES:
                raise Refused(
                    f"The workbook holds {len(entries):,} entries, more than the {settings.UPLOAD_MAX_ARCHIVE_ENTRIES:,} allowed.",
                    code="archive_too_large",
                    status=413,
                )
            unpacked = sum(entry.file_size for entry in entries)
            if unpacked > settings.UPLOAD_MAX_UNPACKED_BYTES:
                raise Refused(
                    f"The workbook unpacks to {unpacked:,} bytes, more than the {settings.UPLOAD_MAX_UNPACKED_BYTES:,} allowed.",
                    code="archive_too_large",
                    status=413,
                )
            names = {entry.filename for entry in entries}
    except zipfile.BadZipFile as error:
        raise Refused(
            "The file looks like a ZIP archive but cannot be read.", code="corrupt", status=400
        ) from error
    if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
        return "xlsx"
    raise Refused(
        "Archives are not accepted: upload the files themselves (Excel workbooks are fine).",
        code="archive",
        status=415,
    )


def _decode(head: bytes) -> str | None:
    if b"\x00" in head:
        return None  # NULs: binary (UTF-16 text is not among the accepted kinds)
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start >= len(head) - 3:  # a character cut at the end of the sample
            return head[: error.start].decode("utf-8")
    try:
        text = head.decode("cp1252")
    except UnicodeDecodeError:
        return None
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
    return None if control > len(text) // 100 else text


def _text_kind(text: str, *, whole: bool) -> str:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("{", "["):
        lines = [line for line in stripped.splitlines() if line.strip()]
        complete = lines if whole else lines[:-1]  # the sample may cut the last line
        if whole and _is_json(stripped):
            return "json"
        if len(complete) >= 2 and all(_is_json(line) for line in complete):
            return "ndjson"
        if not whole:
            return "json"  # larger than the sample: the analyser parses it as a stream and judges
    try:
        dialect = csv.Sniffer().sniff(stripped[:16384], delimiters=",\t;|")
    except csv.Error:
        return "text"
    return "tsv" if dialect.delimiter == "\t" else "csv"


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _reconcile(kind: str, filename: str) -> str:
    ext = PurePath(filename or "").suffix.lower()
    if ext not in EXTENSIONS:
        return kind  # no or unknown extension: nothing to contradict the content
    allowed, named = EXTENSIONS[ext]
    if kind not in allowed:
        raise Refused(
            f"The name ends in {ext} but the content is {DESCRIPTIONS[kind]}: rename the file or upload the right one.",
            code="type_mismatch",
            status=400,
        )
    return named if kind in TEXT_KINDS else kind
