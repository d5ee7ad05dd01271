"""Limits, text encodings and wording that every file kind's analysis uses (docs/uploads.md)."""

import codecs

from .registry import AnalysisError

# Text is decoded in chunks of this many bytes. A CSV or TSV chunk with no line break at all means a
# line of at least this length: such a line is refused before the csv module builds it as one row.
TEXT_CHUNK_BYTES = 1024 * 1024

NAME_CHARS = 200
ROW_NUMBERS = 5
# In summaries: at most this many names listed, each cut to this many characters.
SUMMARY_NAMES = 10
SUMMARY_NAME_CHARS = 40


# --- Text encodings ---------------------------------------------------------------------------------

ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with a byte-order mark",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "latin-1": "ISO-8859-1",
}


def detect_encoding(path: str, *, max_line: bool) -> str:
    """
    The encoding the whole file decodes with, checked in one streaming pass that also refuses NUL bytes
    (binary data) and, with `max_line`, lines of TEXT_CHUNK_BYTES or more.
    """
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(codecs.BOM_UTF8):
        candidates = ("utf-8-sig",)
    elif head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        candidates = ("utf-16",)
    else:
        # latin-1 maps every byte, so the last candidate always succeeds.
        candidates = ("utf-8", "cp1252", "latin-1")
    for encoding in candidates:
        try:
            check_text(path, encoding, max_line=max_line)
        except UnicodeDecodeError:
            continue
        return encoding
    name = "UTF-8" if candidates[0] == "utf-8-sig" else "UTF-16"
    raise AnalysisError(f"The file starts with a {name} byte-order mark but is not valid {name} text.")


def check_text(path: str, encoding: str, *, max_line: bool) -> None:
    decoder = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as handle:
        for number, chunk in enumerate(iter(lambda: handle.read(TEXT_CHUNK_BYTES), b"")):
            text = decoder.decode(chunk)
            nul = text.find("\x00")
            if nul >= 0:
                line = line_number(path, encoding, number) + text.count("\n", 0, nul)
                raise AnalysisError(
                    "The file contains NUL bytes, so it holds binary data rather than text "
                    f"(the first is on line {line:,})."
                )
            if max_line and len(chunk) == TEXT_CHUNK_BYTES and "\n" not in text and "\r" not in text:
                raise AnalysisError(
                    f"Line {line_number(path, encoding, number):,} is longer than "
                    f"{TEXT_CHUNK_BYTES // (1024 * 1024)} MiB; a line that long cannot be analysed as a table."
                )
        decoder.decode(b"", final=True)


def line_number(path: str, encoding: str, chunks: int) -> int:
    """The line the chunk numbered `chunks` starts in: counted only for an error message."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with open(path, "rb") as handle:
        for _ in range(chunks):
            line += decoder.decode(handle.read(TEXT_CHUNK_BYTES)).count("\n")
    return line


# --- Wording ----------------------------------------------------------------------------------------


def n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def has(count: int) -> str:
    return "has" if count == 1 else "have"


def display(name: str, index: int | None = None) -> str:
    """A name from the file, made safe for one paragraph: control characters out, whitespace collapsed, cut."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(name)[: 4 * SUMMARY_NAME_CHARS])
    text = " ".join(text.split())
    if not text and index is not None:
        return f"column {index + 1}"
    if len(text) > SUMMARY_NAME_CHARS:
        text = text[: SUMMARY_NAME_CHARS - 1] + "…"
    return text or '""'


def names(items: list[str], noun: str) -> str:
    shown = items[:SUMMARY_NAMES]
    text = ", ".join(shown)
    if len(items) > len(shown):
        text += f" and {n(len(items) - len(shown), 'more ' + noun)}"
    return text
