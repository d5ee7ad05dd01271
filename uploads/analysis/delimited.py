"""CSV and TSV tables: encoding, delimiter, rows, and a profile of every column."""

import csv
import re
from itertools import islice

from .registry import AnalysisError, register
from .shared import ENCODING_NAMES, NAME_CHARS, ROW_NUMBERS, detect_encoding, display, has, n, names

SAMPLE_FIELDS = 100
# Excel's own limit: a header wider than this is not a table anyone can open.
CSV_MAX_COLUMNS = 16_384
# csv reads whole lines in groups of about this many characters (64 per header column for wide
# tables, so at most 1 MiB), so a group's rows stay small however many there are; a record that
# spans more than CSV_MAX_RECORD_CHARS (quoted line breaks) is refused.
CSV_READ_CHARS = 16 * 1024
FORMULA_LOCATIONS = 20
SAMPLE_CHARS = 200
SAMPLE_ROWS = 5
CSV_MAX_RECORD_CHARS = 2 * 1024 * 1024


# --- CSV and TSV ------------------------------------------------------------------------------------

# The encoding check refuses NUL, so NUL can never be inside a cell: a column joined with it as the
# separator is an unambiguous string that one C-speed regex pass can check, instead of a Python loop
# and a regex call per cell: that costs more than the 0.5x target of bench/uploads.py leaves
# (docs/performance.md, "Uploads").
_SEP = "\x00"
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
# The null markers, as documented (the tests hold the trie below to exactly these) ...
MARKERS = ("NULL", "null", "Null", "None", "none", "NA", "N/A", "n/a", "NaN", "nan", "#N/A", "\\N")
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
# Is there a null marker or a formula in a text batch at all? Usually not: one pass says so.
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
                if _TEXT_FLAGS.search(blob):
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


def _analyse_delimited(path: str, kind: str) -> tuple[str, dict]:
    encoding = detect_encoding(path, max_line=True)
    line = _first_line(path, encoding)
    delimiter = "\t" if kind == "tsv" else _guess_delimiter(line)
    # Wide tables are read in proportionally larger groups, so that the work done once per column
    # and group is spread over more than a row or two.
    chars = max(CSV_READ_CHARS, 64 * min(_fields(line, delimiter), CSV_MAX_COLUMNS))
    profile = None
    leading_blank = 0
    try:
        with open(path, encoding=encoding, newline="") as handle:
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

    how = f"{ENCODING_NAMES[encoding]}, {_DELIMITER_NAMES[delimiter]}-separated"
    described = names([f"{display(c['name'], i)} ({c['type']})" for i, c in enumerate(columns)], "column")
    if p.rows:
        parts = [f"A {label} file ({how}) with {n(p.rows, 'row')} and {n(p.width, 'column')}: {described}."]
    else:
        parts = [
            f"A {label} file ({how}) with a header of {n(p.width, 'column')} ({described}) and no data rows."
        ]
    with_nulls = [c for c in columns if c["nulls"]]
    if with_nulls:
        total = sum(c["nulls"] for c in with_nulls)
        parts.append(
            f"{n(len(with_nulls), 'column')} {has(len(with_nulls))} empty or null cells ({total:,} in all)."
        )
    if p.formula_total:
        parts.append(
            f"{n(p.formula_total, 'cell')} in {n(len(p.formula_columns), 'column')} "
            f"start{'s' if p.formula_total == 1 else ''} with =, +, - or @ and could run as "
            "formulas in a spreadsheet."
        )
    if p.ragged:
        parts.append(
            f"{n(p.ragged, 'row')} {'has' if p.ragged == 1 else 'have'} a different number of fields "
            f"than the header's {p.width:,}."
        )
    return " ".join(parts), details


@register("csv")
def analyse_csv(path: str) -> tuple[str, dict]:
    return _analyse_delimited(path, "csv")


@register("tsv")
def analyse_tsv(path: str) -> tuple[str, dict]:
    return _analyse_delimited(path, "tsv")
