"""
What a client's sample file holds: one readable paragraph for the client and a details document.

`analyse(path, kind)` runs in the upload task after intake (the kind was sniffed from the content) and
the virus scan. Every file is treated as hostile: nothing is loaded whole, every loop is bounded by the
file or by a limit below, and the outcome is either an `Analysis` or an `AnalysisError` whose message
the owner can read. Anything else escaping would be a defect; a last-resort net turns it into an
`AnalysisError` and logs it with its traceback.

Limits come from settings (`UPLOAD_MAX_JSON_DEPTH`, `UPLOAD_MAX_IMAGE_PIXELS`,
`UPLOAD_MAX_ARCHIVE_ENTRIES`, `UPLOAD_MAX_UNPACKED_BYTES`) or, where no setting exists, from the module
constants below.

Summaries use thousands separators, are one paragraph, and never quote cell or field values: column
names, keys and sheet names appear (they describe the data), values only in `details`.

Details documents. Every document has `kind` and `bytes` (the file's size); then, per kind:

csv, tsv
    encoding        "utf-8", "utf-8-sig" (UTF-8 with a byte-order mark), "utf-16" (only with a BOM),
                    "cp1252" or "latin-1": UTF-8 is tried first, then Windows-1252, then ISO-8859-1,
                    which decodes anything.
    delimiter       "," ";" "|" or "\\t" (for csv, whichever splits the header line into most fields)
    rows            data rows, the header and blank lines not counted
    columns         fields in the header (the first non-blank line)
    header          the header's names (each cut to 200 characters)
    column_profiles [{"name", "type", "nulls", "formula_cells"}] one per header column. `type` is the
                    narrowest of integer, decimal, boolean, date, datetime, text that holds every
                    non-null value of the column ("empty" when there is none): integer [+-]?[0-9]+;
                    decimal adds a fraction and/or an exponent; boolean true/false/yes/no (lower, Title
                    or UPPER case); date YYYY-MM-DD, YYYY/M/D, D/M/YYYY, M/D/YYYY or D.M.YYYY; datetime
                    a date, then T or a space, H:MM[:SS[.fraction]], an optional AM/PM and zone (Z,
                    UTC, +05:30); a datetime column may also hold bare dates, a decimal one integers.
                    Thousands separators and decimal commas make a value text. `nulls` counts empty
                    cells and the markers NULL, null, Null, None, none, NA, N/A, n/a, NaN, nan, #N/A
                    and \\N; whitespace is a value.
    formula_cells   cells that start with =, +, - or @, have a second character, and are not a plain
                    signed number ([+-] then digits with an optional fraction and exponent, nothing
                    else): "-3" and "+1.5e3" are numbers, "-3+cmd", "+44 20 7946 0958", "=SUM(A1)" and
                    "@A1" are flagged, as a spreadsheet would evaluate them. Fields beyond the header
                    in long rows are checked too.
    formula_columns columns holding at least one such cell
    formula_locations  up to 20 of them, by row and column, as {"row", "column", "column_name"}: row
                    is the data row (1 is the first row after the header, blank lines not counted),
                    column is 1-based, column_name is null for a field beyond the header. They are
                    the first found: all of the first batch of rows holding any, column by column.
    ragged_rows     rows with a different number of fields than the header; ragged_row_numbers the
                    first 5. Their missing fields count as empty, extra fields belong to no column.
    blank_lines     lines with no field at all, skipped
    sample_rows     the first 5 data rows as read (at most 100 fields each, each cut to 200 characters)

json
    encoding "utf-8"; top_level "array", "object", "string", "number", "boolean" or "null";
    records         elements of a top-level array, else 1
    record_types    {"object": n, "array": n, "string": n, ...} over the records
    keys            the union of keys of object records (of the object itself at the top level), in
                    order of first appearance, at most 1,000 (each cut to 200 characters);
                    keys_truncated when there were more
    max_depth       deepest nesting: a scalar is 0, [] and {} are 1, [[1]] is 2 (the limit plus one
                    when it was exceeded: the level where reading stopped)
    depth_limit     UPLOAD_MAX_JSON_DEPTH; depth_exceeded when the file goes deeper. The file is then
                    not read past that point: complete is false and the other figures cover the part
                    before it.
    Read as ijson basic_parse events (no prefixes, no objects built). A document holding a run of more
    than 4,300 digits is read with ijson's pure-Python backend: its C backend (3.6) crashes the
    process on an integer that long.

ndjson
    records (non-blank lines holding one JSON value), blank_lines, invalid_lines with
    invalid_line_numbers (first 5), record_types, keys/keys_truncated (top-level keys of object
    records), max_depth, depth_limit, depth_exceeded with depth_exceeded_lines (first 5): such a line
    counts as a record but is not read past the limit. Lines longer than 16 MiB count as invalid.

text
    encoding (as for csv), lines (line breaks, plus one for a last line without one), words
    (whitespace-separated), characters (a line break counts as one), longest_line (in characters).

xlsx
    sheets [{"name", "rows", "columns", "cells"}] per worksheet: rows and columns are the extent of
    the cells that hold a value (the last such row and column, counted from A1), cells how many hold
    one; formulas count by their cached value. sheet_count.

png, jpeg
    format ("PNG" or "JPEG"), width, height, mode (Pillow's: "RGB", "L", "P", ...), frames.
    trailing_bytes  bytes after the end of the image (a PNG's IEND chunk, a JPEG's EOI marker, found
                    by walking the chunks or segments, so an EXIF thumbnail's EOI is not the end).
                    Any is flagged in the summary: appended data can make the file another kind too
                    (a polyglot, e.g. PNG and HTML). The upload still completes: the bytes were
                    virus-scanned whole, stored files are never served back, and cameras append
                    data after EOI (multi-picture and motion photos).

Refused with an AnalysisError, besides files their own format's reader finds damaged:

csv, tsv, text  NUL bytes (binary data); a byte-order mark the rest of the file does not follow;
                text only: more than 1% control characters.
csv, tsv        a line of 1 MiB or more (TEXT_CHUNK_BYTES: every line of 2 MiB or more is refused, one
                in between depending on where it falls), a record whose quoted fields span more than
                2 MiB of lines, a field over the csv module's limit (131,072 characters unless the
                process changed it), a header of more than 16,384 columns.
json            anything but one JSON value (NaN included), UTF-16, a number of more than 4,300 digits
                (Python's int() limit) or with an exponent Decimal cannot hold.
xlsx            more parts or unpacked bytes than UPLOAD_MAX_ARCHIVE_ENTRIES and
                UPLOAD_MAX_UNPACKED_BYTES allow (declared sizes, which ZIP readers stop at), a
                shared-strings table over 64 MiB, a sheet claiming more than Excel's 1,048,576 rows.
png, jpeg       more pixels than UPLOAD_MAX_IMAGE_PIXELS (also between it and twice it, where Pillow
                only warns), content the declared format's decoder cannot open, truncation: a PNG's
                chunks and CRCs are verified up to IEND without decoding pixels, a JPEG (which has no
                such check) is decoded at 1/8 scale, which still reads all of its data.

Memory: CSV rows are read in groups of at most about 1 MiB, JSON as a stream of events, text in
chunks, XLSX a row at a time, images are never decoded at full size. What can still be held whole is
one token: a JSON string or key (at most the file), an NDJSON line (16 MiB), a CSV record (2 MiB).
"""

import codecs
import csv
import functools
import gc
import io
import logging
import math
import os
import re
import sys
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice

from django.conf import settings

logger = logging.getLogger(__name__)

KINDS = ("csv", "tsv", "json", "ndjson", "text", "xlsx", "png", "jpeg")

# Text is decoded in chunks of this many bytes. A CSV or TSV chunk with no line break at all means a
# line of at least this length: such a line is refused before the csv module builds it as one row.
TEXT_CHUNK_BYTES = 1024 * 1024
# Plain text is counted in chunks of this many characters, whatever its line lengths.
TEXT_READ_CHARS = 256 * 1024
# csv reads whole lines in groups of about this many characters (64 per header column for wide
# tables, so at most 1 MiB), so a group's rows stay small however many there are; a record that
# spans more than CSV_MAX_RECORD_CHARS (quoted line breaks) is refused.
CSV_READ_CHARS = 16 * 1024
CSV_MAX_RECORD_CHARS = 2 * 1024 * 1024
# Excel's own limit: a header wider than this is not a table anyone can open.
CSV_MAX_COLUMNS = 16_384
SAMPLE_ROWS = 5
SAMPLE_FIELDS = 100
SAMPLE_CHARS = 200
NAME_CHARS = 200
FORMULA_LOCATIONS = 20
ROW_NUMBERS = 5
MAX_KEYS = 1_000
NDJSON_MAX_LINE_BYTES = 16 * 1024 * 1024
JSON_BUFFER_BYTES = 64 * 1024
# Excel's row limit; a sheet that claims more is damaged or hostile (openpyxl would pad every gap).
XLSX_MAX_ROWS = 1_048_576
# Read-only openpyxl still holds the whole shared-strings table in memory.
XLSX_MAX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024
# JPEG data is searched for its markers in blocks of this many bytes.
IMAGE_SCAN_BYTES = 64 * 1024
# In summaries: at most this many names listed, each cut to this many characters.
SUMMARY_NAMES = 10
SUMMARY_NAME_CHARS = 40


@dataclass(frozen=True)
class Analysis:
    summary: str
    details: dict


class AnalysisError(Exception):
    """The file cannot be analysed (corrupt, a decompression bomb, too deep...): message for the owner."""


def analyse(path: str | os.PathLike, kind: str) -> Analysis:
    """Analyse the file at `path`, whose content was sniffed as `kind` (one of KINDS)."""
    path = os.fspath(path)
    analyser = _ANALYSERS.get(kind)
    if analyser is None:
        raise AnalysisError(f"Files of this kind ({kind}) are not analysed.")
    size = os.stat(path).st_size  # a missing file is the caller's fault, not the client's: let it raise
    try:
        summary, details = analyser(path)
    except AnalysisError:
        raise
    except (MemoryError, RecursionError):
        raise AnalysisError("The file is too large or too complex to analyse.") from None
    except Exception:
        # Hostile input must never crash the task; the traceback goes to the logs to be fixed.
        logger.exception("Unexpected error analysing a %s file", kind)
        raise AnalysisError(f"The file could not be analysed as {_KIND_NAMES[kind]}.") from None
    return Analysis(summary=summary, details={"kind": kind, "bytes": size, **details})


# --- Text encodings ---------------------------------------------------------------------------------

_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with a byte-order mark",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "latin-1": "ISO-8859-1",
}


def _detect_encoding(path: str, *, max_line: bool) -> str:
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
            _check_text(path, encoding, max_line=max_line)
        except UnicodeDecodeError:
            continue
        return encoding
    name = "UTF-8" if candidates[0] == "utf-8-sig" else "UTF-16"
    raise AnalysisError(f"The file starts with a {name} byte-order mark but is not valid {name} text.")


def _check_text(path: str, encoding: str, *, max_line: bool) -> None:
    decoder = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as handle:
        for number, chunk in enumerate(iter(lambda: handle.read(TEXT_CHUNK_BYTES), b"")):
            text = decoder.decode(chunk)
            nul = text.find("\x00")
            if nul >= 0:
                line = _line_number(path, encoding, number) + text.count("\n", 0, nul)
                raise AnalysisError(
                    "The file contains NUL bytes, so it holds binary data rather than text "
                    f"(the first is on line {line:,})."
                )
            if max_line and len(chunk) == TEXT_CHUNK_BYTES and "\n" not in text and "\r" not in text:
                raise AnalysisError(
                    f"Line {_line_number(path, encoding, number):,} is longer than "
                    f"{TEXT_CHUNK_BYTES // (1024 * 1024)} MiB; a line that long cannot be analysed as a table."
                )
        decoder.decode(b"", final=True)


def _line_number(path: str, encoding: str, chunks: int) -> int:
    """The line the chunk numbered `chunks` starts in: counted only for an error message."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with open(path, "rb") as handle:
        for _ in range(chunks):
            line += decoder.decode(handle.read(TEXT_CHUNK_BYTES)).count("\n")
    return line


# --- CSV and TSV ------------------------------------------------------------------------------------

# The encoding check refuses NUL, so NUL can never be inside a cell: a column joined with it as the
# separator is an unambiguous string that one C-speed regex pass can check, instead of a Python loop
# and a regex call per cell.
_SEP = "\x00"
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
# The null markers, as documented (the tests hold the trie below to exactly these) ...
_MARKERS = ("NULL", "null", "Null", "None", "none", "NA", "N/A", "n/a", "NaN", "nan", "#N/A", "\\N")
# ... as a trie: the regex engine tries one branch per first character instead of twelve.
_MARKER = r"(?:N(?:ULL|ull|one|/A|aN|A)|n(?:ull|one|/a|an)|\#N/A|\\N)"
# Alternatives ordered so that the first to match a value is the longest (15 before 1, 12 before 1).
_DAY = r"(?:[12][0-9]|3[01]|0?[1-9])"
_MONTH = r"(?:1[0-2]|0?[1-9])"
_ISO_DATE = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_DATE = (
    rf"(?:{_ISO_DATE}|[0-9]{{4}}/{_MONTH}/{_DAY}|{_DAY}/{_MONTH}/[0-9]{{4}}"
    rf"|{_MONTH}/{_DAY}/[0-9]{{4}}|{_DAY}\.{_MONTH}\.[0-9]{{4}})"
)
_TIME = (
    r"(?:[T ](?:2[0-3]|[01]?[0-9]):[0-5][0-9](?::[0-5][0-9](?:[.,][0-9]{1,9})?)?"
    r"(?: ?[AaPp][Mm])?(?: ?(?:Z|UTC|[+-](?:2[0-3]|[01][0-9]):?[0-5][0-9]))?)"
)
_VALUES = {
    "integer": r"[+-]?[0-9]+",
    "decimal": rf"[+-]?{_NUMBER}",
    "boolean": r"(?:true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO)",
    "date": _DATE,
    "datetime": rf"{_DATE}{_TIME}?",
}
_CELL_END = rf"(?={_SEP}|\Z)"


# Per type, a whole joined column of non-null values in its common shapes: integers and decimals
# without a plus sign or exponent, ISO dates. Their patterns' first match of a cell is its longest,
# so no lookahead is needed per cell; the others check the cell end. Anything else in a batch (a
# null, "+5", "1e3", "31/12/2024") sends it through _FULL, slower but just as exact.
_FAST = {
    "integer": re.compile(rf"(?:{_SEP}-?+[0-9]++)*+").fullmatch,
    "decimal": re.compile(rf"(?:{_SEP}-?+[0-9]++\.?+[0-9]*+)*+").fullmatch,
    "date": re.compile(rf"(?:{_SEP}{_ISO_DATE})*+").fullmatch,
    "boolean": re.compile(rf"(?:{_SEP}{_VALUES['boolean']}{_CELL_END})*+").fullmatch,
    "datetime": re.compile(rf"(?:{_SEP}{_VALUES['datetime']}{_CELL_END})*+").fullmatch,
}
# The same with empty cells and null markers allowed, and every form of the type.
_FULL = {
    name: re.compile(rf"(?:{_SEP}(?:(?:{value}|{_MARKER}){_CELL_END})?)*+") for name, value in _VALUES.items()
}
# Narrowest first: the first that holds a batch is the column's type from then on. Types only widen.
_LADDER = {
    "empty": ("integer", "decimal", "boolean", "date", "datetime", "text"),
    "integer": ("integer", "decimal", "text"),
    "decimal": ("decimal", "text"),
    "boolean": ("boolean", "text"),
    "date": ("date", "datetime", "text"),
    "datetime": ("datetime", "text"),
}
_MARKERS_FOUND = re.compile(rf"{_SEP}{_MARKER}{_CELL_END}")
# After a separator: the cell that follows is flagged (the rule in the module docstring).
_FORMULA_START = rf"(?=[=+@-][^{_SEP}])(?![+-]{_NUMBER}{_CELL_END})"
_FORMULA = re.compile(rf"{_SEP}{_FORMULA_START}")
# Is there a null marker or a formula in a text batch at all? Usually not, and a cell that could
# start one is rare enough that a first pass looking at first characters only says so cheaply.
_TEXT_HINT = re.compile(rf"{_SEP}[Nn#\\=+@-]")
_TEXT_FLAGS = re.compile(rf"{_SEP}(?=[Nn#\\=+@-])(?:{_MARKER}{_CELL_END}|{_FORMULA_START})")
_SIGNED_NUMBER = re.compile(rf"[+-]{_NUMBER}")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "|": "pipe", "\t": "tab"}


def _is_formula(value: str) -> bool:
    """Would a spreadsheet evaluate this cell as a formula? (The rule documented above, per cell.)"""
    return (
        len(value) > 1
        and value[0] in "=+-@"
        and not (value[0] in "+-" and _SIGNED_NUMBER.fullmatch(value) is not None)
    )


class _CsvProfile:
    """Accumulates a table's figures batch by batch; nothing in it grows with the number of rows."""

    def __init__(self, header: list[str]):
        self.header = header
        self.width = len(header)
        self.types = ["empty"] * self.width
        self.checks = [None] * self.width  # per column, its type's _FAST check (None: text or empty)
        self.nulls = [0] * self.width
        self.formulas = [0] * self.width
        self.formula_total = 0
        self.formula_columns: set[int] = set()
        self.locations: list[dict] = []
        self.rows = 0
        self.ragged = 0
        self.ragged_numbers: list[int] = []
        self.blank = 0
        self.samples: list[list[str]] = []

    def add(self, rows: list[list[str]]) -> None:
        if len(self.samples) < SAMPLE_ROWS:
            for row in islice(filter(None, rows), SAMPLE_ROWS - len(self.samples)):
                self.samples.append([value[:SAMPLE_CHARS] for value in row[:SAMPLE_FIELDS]])
        if list(map(len, rows)).count(self.width) != len(rows):
            rows = self._square(rows)
        first = self.rows + 1
        self.rows += len(rows)
        types, checks, nulls, join = self.types, self.checks, self.nulls, _SEP.join
        # Column by column as zip makes them: each column's cells are still in cache when joined.
        for index, cells in enumerate(zip(*rows, strict=True)):
            blob = _SEP + join(cells)
            check = checks[index]
            if check is not None and check(blob) is not None:
                continue  # a settled column whose batch has no null and fits its type: one pass
            if types[index] == "text":
                nulls[index] += cells.count("")
                if _TEXT_HINT.search(blob) and _TEXT_FLAGS.search(blob):
                    nulls[index] += len(_MARKERS_FOUND.findall(blob))
                    self._flag(index, blob, first)
            else:
                self._widen(index, cells, blob, first)

    def _widen(self, index: int, cells: tuple, blob: str, first: int) -> None:
        found = cells.count("") + len(_MARKERS_FOUND.findall(blob))
        self.nulls[index] += found
        if found == len(cells):
            return
        for kind in _LADDER[self.types[index]]:
            if kind == "text" or _FULL[kind].fullmatch(blob):
                break
        self.types[index] = kind
        self.checks[index] = _FAST.get(kind)
        if kind == "text":
            # Typed batches hold only numbers, dates and booleans: formulas can only be in text ones.
            self._flag(index, blob, first)

    def _flag(self, index: int, blob: str, first: int) -> None:
        matches = _FORMULA.findall(blob)
        if not matches:
            return
        self.formulas[index] += len(matches)
        self.formula_total += len(matches)
        self.formula_columns.add(index)
        if len(self.locations) < FORMULA_LOCATIONS:
            for match in islice(_FORMULA.finditer(blob), FORMULA_LOCATIONS - len(self.locations)):
                row = first + blob.count(_SEP, 0, match.start())
                self._locate(row, index)

    def _locate(self, row: int, index: int) -> None:
        name = self.header[index] if index < self.width else None
        self.locations.append({"row": row, "column": index + 1, "column_name": name})

    def _square(self, rows: list[list[str]]) -> list[list[str]]:
        """Blank lines out, short rows padded with empty cells, long ones cut after their extras are checked."""
        width = self.width
        squared = []
        for row in rows:
            fields = len(row)
            if fields == width:
                squared.append(row)
                continue
            if fields == 0:
                self.blank += 1
                continue
            number = self.rows + len(squared) + 1
            self.ragged += 1
            if len(self.ragged_numbers) < ROW_NUMBERS:
                self.ragged_numbers.append(number)
            if fields > width:
                for index in range(width, fields):
                    if _is_formula(row[index]):
                        self.formula_total += 1
                        self.formula_columns.add(index)
                        if len(self.locations) < FORMULA_LOCATIONS:
                            self._locate(number, index)
                squared.append(row[:width])
            else:
                squared.append(row + [""] * (width - fields))
        return squared


def _read_records(handle, delimiter: str, chars: int):
    """
    Lists of rows, each parsed from about `chars` characters of whole lines. A record whose quoted
    field runs past the end of a group is re-read with the next one, so groups never split a record.
    """
    dialect = csv.reader((), delimiter=delimiter).dialect  # built once, not per group
    carry: list[str] = []
    carried = 0
    while True:
        # A carried record is read again with the next group: growing the group with it keeps the
        # re-reading linear in the record's size, not quadratic.
        fresh = handle.readlines(max(chars, carried))
        lines = carry + fresh if carry else fresh
        if not lines:
            return
        rows = list(csv.reader(lines, dialect))
        carry = []
        carried = 0
        # Inside quotes a line break belongs to the field: a last field ending in one may be a record
        # cut by the end of the group (or one that really ends so; re-reading it is then harmless).
        if fresh and rows and rows[-1] and rows[-1][-1][-1:] in ("\n", "\r"):
            replay = csv.reader(lines, dialect)
            for _ in range(len(rows) - 1):
                next(replay)
            carry = lines[replay.line_num :]
            rows.pop()
            carried = sum(map(len, carry))
            if carried > CSV_MAX_RECORD_CHARS:
                raise AnalysisError(
                    f"A record spans more than {CSV_MAX_RECORD_CHARS // (1024 * 1024)} MiB "
                    "(a quoted field that never closes?); the table cannot be analysed."
                )
        lines = fresh = None  # freed before the rows are worked on: the memory is reused at once
        yield rows


def _first_line(path: str, encoding: str) -> str:
    with open(path, encoding=encoding, newline="") as handle:
        return next((line for line in handle.readlines(64 * 1024) if line.strip()), "")


def _fields(line: str, delimiter: str) -> int:
    return max((len(row) for row in csv.reader([line], delimiter=delimiter)), default=0)


def _guess_delimiter(line: str) -> str:
    counts = {delimiter: _fields(line, delimiter) for delimiter in ",;|"}
    best = max(counts.values())
    return next(d for d in ",;|" if counts[d] == best)  # ties go to the comma


@contextmanager
def _collector_paused():
    """
    The cyclic garbage collector off while rows are read. A group of many short rows keeps thousands
    of lists alive at once: each young collection then promotes them, and the full collections that
    follow walk the whole worker's heap (Django's objects included) again and again, several times
    the cost of the analysis itself. Rows, cells and blobs form no reference cycles, so reference
    counting alone frees them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _analyse_delimited(path: str, kind: str) -> tuple[str, dict]:
    encoding = _detect_encoding(path, max_line=True)
    line = _first_line(path, encoding)
    delimiter = "\t" if kind == "tsv" else _guess_delimiter(line)
    # Wide tables are read in proportionally larger groups, so that the work done once per column
    # and group is spread over more than a row or two.
    chars = max(CSV_READ_CHARS, 64 * min(_fields(line, delimiter), CSV_MAX_COLUMNS))
    profile = None
    leading_blank = 0
    try:
        with open(path, encoding=encoding, newline="") as handle, _collector_paused():
            for rows in _read_records(handle, delimiter, chars):
                if profile is None:
                    while rows and not rows[0]:
                        leading_blank += 1
                        rows = rows[1:]
                    if not rows:
                        continue
                    if len(rows[0]) > CSV_MAX_COLUMNS:
                        raise AnalysisError(
                            f"The header has {len(rows[0]):,} columns; at most {CSV_MAX_COLUMNS:,} "
                            "can be analysed."
                        )
                    profile = _CsvProfile([name[:NAME_CHARS] for name in rows[0]])
                    rows = rows[1:]
                profile.add(rows)
    except csv.Error as error:
        reason = str(error)
        if "field limit" in reason:
            reason = f"a field is longer than {csv.field_size_limit():,} characters (is a quote left open?)"
        raise AnalysisError(f"The file could not be read as {kind.upper()}: {reason}.") from None
    return _delimited_result(kind, encoding, delimiter, profile, leading_blank)


def _delimited_result(kind, encoding, delimiter, profile, leading_blank) -> tuple[str, dict]:
    label = kind.upper()
    details = {"encoding": encoding, "delimiter": delimiter}
    if profile is None:
        details.update(
            rows=0,
            columns=0,
            header=[],
            column_profiles=[],
            formula_cells=0,
            formula_columns=0,
            formula_locations=[],
            ragged_rows=0,
            ragged_row_numbers=[],
            blank_lines=leading_blank,
            sample_rows=[],
        )
        return f"An empty {label} file: it has no header and no rows.", details
    p = profile
    columns = [
        {"name": name, "type": p.types[i], "nulls": p.nulls[i], "formula_cells": p.formulas[i]}
        for i, name in enumerate(p.header)
    ]
    details.update(
        rows=p.rows,
        columns=p.width,
        header=p.header,
        column_profiles=columns,
        formula_cells=p.formula_total,
        formula_columns=len(p.formula_columns),
        formula_locations=sorted(p.locations, key=lambda loc: (loc["row"], loc["column"])),
        ragged_rows=p.ragged,
        ragged_row_numbers=p.ragged_numbers,
        blank_lines=leading_blank + p.blank,
        sample_rows=p.samples,
    )

    how = f"{_ENCODING_NAMES[encoding]}, {_DELIMITER_NAMES[delimiter]}-separated"
    described = _names([f"{_display(c['name'], i)} ({c['type']})" for i, c in enumerate(columns)], "column")
    if p.rows:
        parts = [f"A {label} file ({how}) with {_n(p.rows, 'row')} and {_n(p.width, 'column')}: {described}."]
    else:
        parts = [
            f"A {label} file ({how}) with a header of {_n(p.width, 'column')} ({described}) and no data rows."
        ]
    with_nulls = [c for c in columns if c["nulls"]]
    if with_nulls:
        total = sum(c["nulls"] for c in with_nulls)
        parts.append(
            f"{_n(len(with_nulls), 'column')} {_has(len(with_nulls))} empty or null cells ({total:,} in all)."
        )
    if p.formula_total:
        parts.append(
            f"{_n(p.formula_total, 'cell')} in {_n(len(p.formula_columns), 'column')} "
            f"start{'s' if p.formula_total == 1 else ''} with =, +, - or @ and could run as "
            "formulas in a spreadsheet."
        )
    if p.ragged:
        parts.append(
            f"{_n(p.ragged, 'row')} {'has' if p.ragged == 1 else 'have'} a different number of fields "
            f"than the header's {p.width:,}."
        )
    return " ".join(parts), details


# --- JSON and NDJSON --------------------------------------------------------------------------------


class _JsonShape:
    """
    Follows ijson's basic_parse events, which keep no path (ijson's prefixed events do: at 100,000
    levels their prefixes alone exhaust memory). Depth is a counter, so no nesting can recurse.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.records = 0
        self.types: dict[str, int] = {}
        self.keys: dict[str, None] = {}  # an ordered set
        self.keys_truncated = False
        self.max_depth = 0
        self.exceeded = False
        self.top: str | None = None  # set by follow() as soon as the first event is read

    def add_key(self, key: str) -> None:
        key = key[:NAME_CHARS]
        if key in self.keys:
            return
        if len(self.keys) >= MAX_KEYS:
            self.keys_truncated = True
            return
        self.keys[key] = None

    def count(self, kind: str) -> None:
        self.records += 1
        self.types[kind] = self.types.get(kind, 0) + 1

    def follow(self, events, *, stream: bool) -> str | None:
        """
        Walk one JSON value (`stream`: its elements are the records when it is an array); returns the
        top-level type. Stops at the first container deeper than the limit, with `exceeded` set.
        """
        depth = 0
        top = None
        limit = self.limit
        for event, value in events:
            self.top = self.top or event
            if event == "start_map" or event == "start_array":
                depth += 1
                if depth > self.max_depth:
                    self.max_depth = depth
                    if depth > limit:
                        self.exceeded = True
                        return top
                if depth == 1:
                    top = "object" if event == "start_map" else "array"
                    if not stream or top == "object":
                        self.count(top)
                elif depth == 2 and stream and top == "array":
                    self.count("object" if event == "start_map" else "array")
            elif event == "end_map" or event == "end_array":
                depth -= 1
            elif event == "map_key":
                # Keys of the top object, or of an object that is an element of the top array.
                if depth == 1 or (depth == 2 and stream and top == "array"):
                    self.add_key(value)
            elif depth == 0:
                top = event
                self.count(event)
            elif depth == 1 and stream and top == "array":
                self.count(event)
        return top


_NUMBER_TOO_LONG = "it holds a number too long or too large to read"


def _json_error(error: Exception, *, started: bool) -> str:
    """
    What is wrong, in words for the owner. yajl's messages (C backend) carry a window of the file
    after their first line, the pure-Python backend's quote the offending token: neither is repeated.
    """
    if isinstance(error, UnicodeDecodeError):
        return "it contains bytes that are not UTF-8"
    if isinstance(error, ArithmeticError) or (isinstance(error, ValueError) and "digits" in str(error)):
        return _NUMBER_TOO_LONG  # a Decimal exponent out of range, int() over its digit limit
    text = error.args[0] if error.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = str(text)
    first = text.splitlines()[0].strip() if text.strip() else ""
    if "premature EOF" in first or "Incomplete JSON content" in first:
        return "it is empty" if not started else "it ends in the middle of a value (is it truncated?)"
    if "trailing garbage" in first or "Additional data" in first:
        return "more content follows the first JSON value"
    if "UTF8" in first or "codec can't decode" in first:
        return "it contains bytes that are not UTF-8"
    if "overflow" in first or re.match(r"Unexpected symbol '[-+.0-9]", first):
        return _NUMBER_TOO_LONG
    return "it contains characters that are not JSON"


# Every byte a digit or not, as b"1" or b"0": a run of digits becomes a run of b"1" to search for.
_DIGIT_MARKS = bytes(0x31 if 0x30 <= byte <= 0x39 else 0x30 for byte in range(256))


def _json_backend(chunks):
    """
    ijson's C backend, unless `chunks` (the bytes of the document) hold a run of more digits than
    int() accepts. For such an integer the C backend (ijson 3.6) queues an event whose value is
    NULL, and reading that event crashes the process; the pure-Python backend raises ValueError
    instead. It is several times slower, and such runs are rare.
    """
    limit = sys.get_int_max_str_digits()
    if limit:
        run = b"1" * (limit + 1)
        tail = b""
        for chunk in chunks:
            marks = tail + chunk.translate(_DIGIT_MARKS)
            if run in marks:
                return _ijson_backend("python")
            tail = marks[-limit:]
    return _ijson_backend(None)


@functools.cache
def _ijson_backend(name: str | None):
    """
    A backend module (None: ijson's default, the fastest installed), whose basic_parse_gen is called
    directly: ijson.basic_parse() inspects its argument on every call to tell files from async ones,
    which costs more than parsing a short NDJSON line.
    """
    import ijson

    return ijson.get_backend(name or ijson.backend)


# The errors a parse can end in that are the document's fault: JSON errors, int() over its digit
# limit (pure-Python backend), a Decimal exponent out of range (C backend).
_JSON_ERRORS = (ValueError, ArithmeticError)


def _analyse_json(path: str) -> tuple[str, dict]:
    import ijson

    shape = _JsonShape(settings.UPLOAD_MAX_JSON_DEPTH)
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise AnalysisError("The file is UTF-16 text; JSON must be UTF-8.")
        start = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
        handle.seek(start)
        backend = _json_backend(iter(lambda: handle.read(TEXT_CHUNK_BYTES), b""))
        handle.seek(start)
        try:
            top = shape.follow(backend.basic_parse_gen(handle, buf_size=JSON_BUFFER_BYTES), stream=True)
        except (ijson.JSONError, *_JSON_ERRORS) as error:
            reason = _json_error(error, started=shape.top is not None)
            if reason == _NUMBER_TOO_LONG:
                raise AnalysisError(
                    "The file holds a number too long or too large to read (more than "
                    f"{sys.get_int_max_str_digits():,} digits, or an exponent out of range)."
                ) from None
            raise AnalysisError(f"The file is not valid JSON: {reason}.") from None
    details = {
        "encoding": "utf-8",
        "top_level": top,
        "records": shape.records,
        "record_types": shape.types,
        "keys": list(shape.keys),
        "keys_truncated": shape.keys_truncated,
        "max_depth": shape.max_depth,
        "depth_limit": shape.limit,
        "depth_exceeded": shape.exceeded,
        "complete": not shape.exceeded,
    }
    return _json_summary(top, shape), details


def _json_summary(top: str | None, shape: _JsonShape) -> str:
    if shape.exceeded:
        text = (
            f"A JSON file nested deeper than {shape.limit:,} levels, the most this analysis follows, "
            "so it was not read past that point"
        )
        if top == "array":
            text += f"; before it, the top-level array holds {_n(shape.records, 'record')}"
        return text + "."
    if top == "array":
        parts = [f"A JSON file holding an array of {_n(shape.records, 'record')}"]
        objects = shape.types.get("object", 0)
        if objects and objects != shape.records:
            parts[0] += f" ({objects:,} of them objects)"
        parts[0] += "."
        if shape.keys:
            parts.append(f"The objects use {_keys(shape)}.")
    elif top == "object":
        parts = [f"A JSON file holding a single object with {_keys(shape, 'top-level key')}."]
    else:
        return f"A JSON file holding a single {top} value."
    parts.append(f"The deepest nesting is {_n(shape.max_depth, 'level')}.")
    return " ".join(parts)


def _keys(shape: _JsonShape, noun: str = "distinct key") -> str:
    count = len(shape.keys)
    listed = _names([_display(k) for k in shape.keys], noun)
    if shape.keys_truncated:
        return f"more than {count:,} {noun}s, the first being {listed}"
    return f"{_n(count, noun)} ({listed})"


def _analyse_ndjson(path: str) -> tuple[str, dict]:
    import ijson

    shape = _JsonShape(settings.UPLOAD_MAX_JSON_DEPTH)
    blank = invalid = 0
    invalid_numbers: list[int] = []
    exceeded_numbers: list[int] = []
    number = 0
    with open(path, "rb") as handle:
        while line := handle.readline(NDJSON_MAX_LINE_BYTES + 1):
            number += 1
            if number == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8) :]
            if len(line) > NDJSON_MAX_LINE_BYTES:
                while line and not line.endswith(b"\n"):  # the rest of the line is skipped unread
                    line = handle.readline(NDJSON_MAX_LINE_BYTES)
                ok = None
            else:
                line = line.strip()
                if not line:
                    blank += 1
                    continue
                ok = _ndjson_line(shape, line, ijson)
            if ok is None:
                invalid += 1
                if len(invalid_numbers) < ROW_NUMBERS:
                    invalid_numbers.append(number)
            elif ok == "deep" and len(exceeded_numbers) < ROW_NUMBERS:
                exceeded_numbers.append(number)
    details = {
        "encoding": "utf-8",
        "records": shape.records,
        "record_types": shape.types,
        "blank_lines": blank,
        "invalid_lines": invalid,
        "invalid_line_numbers": invalid_numbers,
        "keys": list(shape.keys),
        "keys_truncated": shape.keys_truncated,
        "max_depth": shape.max_depth,
        "depth_limit": shape.limit,
        "depth_exceeded": shape.exceeded,
        "depth_exceeded_lines": exceeded_numbers,
    }
    return _ndjson_summary(shape, invalid, exceeded_numbers), details


def _ndjson_line(shape: _JsonShape, line: bytes, ijson) -> str | None:
    """
    One line's value into `shape`: "ok", or "deep" when it goes past the depth limit; None (and
    `shape` untouched) when the line is not one JSON value.
    """
    trial = _JsonShape(shape.limit)
    try:
        trial.follow(_json_backend([line]).basic_parse_gen(io.BytesIO(line)), stream=False)
    except (ijson.JSONError, *_JSON_ERRORS):
        return None
    for kind, count in trial.types.items():
        shape.records += count
        shape.types[kind] = shape.types.get(kind, 0) + count
    for key in trial.keys:
        shape.add_key(key)
    shape.keys_truncated |= trial.keys_truncated
    shape.max_depth = max(shape.max_depth, trial.max_depth)
    if not trial.exceeded:
        return "ok"
    shape.exceeded = True
    if not trial.records:  # stopped before the line's value was counted (a limit of 0)
        shape.count("array" if trial.top == "start_array" else "object")
    return "deep"


def _ndjson_summary(shape: _JsonShape, invalid: int, exceeded: list[int]) -> str:
    parts = [f"A newline-delimited JSON file with {_n(shape.records, 'record')}"]
    objects = shape.types.get("object", 0)
    if shape.records and objects != shape.records:
        parts[0] += f" ({objects:,} of them objects)"
    parts[0] += "."
    if shape.keys:
        parts.append(f"The objects use {_keys(shape)}.")
    if shape.records:
        parts.append(f"The deepest nesting is {_n(min(shape.max_depth, shape.limit), 'level')}.")
    if shape.exceeded:
        parts.append(
            f"Some records are nested deeper than {shape.limit:,} levels, the most this analysis "
            "follows, and were not read past that point."
        )
    if invalid:
        parts.append(f"{_n(invalid, 'line')} {'is' if invalid == 1 else 'are'} not valid JSON.")
    return " ".join(parts)


# --- Plain text -------------------------------------------------------------------------------------

# C0 and C1 control characters other than tab, line breaks, form feed and escape (coloured logs).
_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f\x80-\x9f]")


def _analyse_text(path: str) -> tuple[str, dict]:
    encoding = _detect_encoding(path, max_line=False)
    lines = words = characters = longest = current = controls = 0
    in_word = False
    last = ""
    # Universal newlines: \r\n and \r are read as \n, so each line break counts as one character.
    with open(path, encoding=encoding) as handle:
        while text := handle.read(TEXT_READ_CHARS):
            characters += len(text)
            breaks = text.count("\n")
            if breaks:
                parts = text.split("\n")
                longest = max(longest, current + len(parts[0]), max(map(len, parts[1:-1]), default=0))
                current = len(parts[-1])
                lines += breaks
            else:
                current += len(text)
            pieces = len(text.split())
            if pieces and in_word and not text[0].isspace():
                pieces -= 1  # a word cut by the chunk boundary
            words += pieces
            in_word = not text[-1].isspace()
            controls += len(_CONTROL.findall(text))
            last = text[-1]
    longest = max(longest, current)
    if characters and last != "\n":
        lines += 1
    if controls and controls * 100 > characters:
        raise AnalysisError(
            f"The file looks like binary data, not text: {controls:,} of its {characters:,} characters "
            "are control characters."
        )
    details = {
        "encoding": encoding,
        "lines": lines,
        "words": words,
        "characters": characters,
        "longest_line": longest,
    }
    if not characters:
        return "An empty text file.", details
    summary = (
        f"A text file ({_ENCODING_NAMES[encoding]}) with {_n(lines, 'line')}, {_n(words, 'word')} and "
        f"{_n(characters, 'character')}; the longest line has {_n(longest, 'character')}."
    )
    return summary, details


# --- Excel workbooks --------------------------------------------------------------------------------


def _check_archive(path: str) -> None:
    """Refuse what intake should already have refused: too many entries or too many bytes unpacked."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise AnalysisError(
            "The workbook is damaged or not an XLSX file (it is not a readable ZIP archive)."
        ) from None
    if len(entries) > settings.UPLOAD_MAX_ARCHIVE_ENTRIES:
        raise AnalysisError(
            f"The workbook holds {len(entries):,} parts, more than the {settings.UPLOAD_MAX_ARCHIVE_ENTRIES:,} allowed."
        )
    # ZIP readers stop at the declared size, so declared sizes bound what unpacking can produce.
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > settings.UPLOAD_MAX_UNPACKED_BYTES:
        raise AnalysisError(
            f"The workbook would unpack to {unpacked:,} bytes, more than the "
            f"{settings.UPLOAD_MAX_UNPACKED_BYTES:,} allowed."
        )
    strings = sum(e.file_size for e in entries if e.filename.lower() == "xl/sharedstrings.xml")
    if strings > XLSX_MAX_SHARED_STRINGS_BYTES:
        raise AnalysisError(
            f"The workbook's table of text values unpacks to {strings:,} bytes, more than the "
            f"{XLSX_MAX_SHARED_STRINGS_BYTES:,} that can be analysed."
        )


def _analyse_xlsx(path: str) -> tuple[str, dict]:
    from openpyxl import load_workbook

    _check_archive(path)
    sheets = []
    # A file object, not the path: openpyxl refuses paths whose name does not end in .xlsx, and
    # storage names come from ids, never from the client's file name.
    with open(path, "rb") as handle:
        try:
            workbook = load_workbook(handle, read_only=True, data_only=True, keep_links=False)
        except Exception as error:
            logger.info("Unreadable workbook: %r", error)
            raise AnalysisError("The workbook is damaged or not a valid XLSX file.") from None
        name = ""
        try:
            for sheet in workbook.worksheets:
                name = sheet.title
                sheets.append(_sheet_extent(sheet))
        except AnalysisError:
            raise
        except Exception as error:
            logger.info("Unreadable worksheet: %r", error)
            raise AnalysisError(f"The workbook is damaged: sheet {_display(name)} cannot be read.") from None
        finally:
            workbook.close()
    details = {"sheet_count": len(sheets), "sheets": sheets}
    if not sheets:
        return "An Excel workbook with no worksheets.", details
    described = _names(
        [
            f"{_display(s['name'])} ({_n(s['rows'], 'row')} × {_n(s['columns'], 'column')})"
            if s["cells"]
            else f"{_display(s['name'])} (empty)"
            for s in sheets
        ],
        "sheet",
    )
    return f"An Excel workbook with {_n(len(sheets), 'sheet')}: {described}.", details


def _sheet_extent(sheet) -> dict:
    # The <dimension> a file declares may lie (and openpyxl pads rows up to it): read real cells only.
    sheet.reset_dimensions()
    rows = columns = cells = 0
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > XLSX_MAX_ROWS:
            raise AnalysisError(
                f"Sheet {_display(sheet.title)} claims more than {XLSX_MAX_ROWS:,} rows, Excel's limit: "
                "the workbook is damaged."
            )
        filled = sum(1 for value in values if value is not None and value != "")
        if filled:
            cells += filled
            rows = number
            last = len(values)
            while values[last - 1] is None or values[last - 1] == "":
                last -= 1
            columns = max(columns, last)
    return {"name": sheet.title, "rows": rows, "columns": columns, "cells": cells}


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
            f" Flagged: {_n(trailing, 'byte')} follow{'s' if trailing == 1 else ''} the end of the image "
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


# --- Wording ----------------------------------------------------------------------------------------


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _has(count: int) -> str:
    return "has" if count == 1 else "have"


def _display(name: str, index: int | None = None) -> str:
    """A name from the file, made safe for one paragraph: control characters out, whitespace collapsed, cut."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(name)[: 4 * SUMMARY_NAME_CHARS])
    text = " ".join(text.split())
    if not text and index is not None:
        return f"column {index + 1}"
    if len(text) > SUMMARY_NAME_CHARS:
        text = text[: SUMMARY_NAME_CHARS - 1] + "…"
    return text or '""'


def _names(items: list[str], noun: str) -> str:
    shown = items[:SUMMARY_NAMES]
    text = ", ".join(shown)
    if len(items) > len(shown):
        text += f" and {_n(len(items) - len(shown), 'more ' + noun)}"
    return text


_KIND_NAMES = {
    "csv": "a CSV table",
    "tsv": "a TSV table",
    "json": "JSON",
    "ndjson": "newline-delimited JSON",
    "text": "text",
    "xlsx": "an Excel workbook",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
}

_ANALYSERS = {
    "csv": lambda path: _analyse_delimited(path, "csv"),
    "tsv": lambda path: _analyse_delimited(path, "tsv"),
    "json": _analyse_json,
    "ndjson": _analyse_ndjson,
    "text": _analyse_text,
    "xlsx": _analyse_xlsx,
    "png": lambda path: _analyse_image(path, "PNG"),
    "jpeg": lambda path: _analyse_image(path, "JPEG"),
}
