"""
The content analysers, fed files generated here: known content gives exact figures, hostile content
gives the documented result or an AnalysisError, never any other exception.
"""

import csv
import io
import json
import random
import re
import struct
import zipfile
import zlib

import pytest
from openpyxl import Workbook
from PIL import Image

from uploads.analysis import Analysis, AnalysisError, analyse, delimited, ndjson, registry, text


def write(tmp_path, name: str, content: str | bytes, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def table(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def assert_well_formed(result: Analysis):
    assert isinstance(result, Analysis)
    assert result.summary and "\n" not in result.summary  # one paragraph
    json.dumps(result.details)  # JSON as it is, no default= needed


# --- CSV and TSV ------------------------------------------------------------------------------------

PEOPLE = [
    ["id", "price", "joined", "seen", "active", "name", "notes"],
    ["1", "9.50", "2024-01-31", "2024-01-31T10:00:00Z", "true", "Asha", ""],
    ["2", "-3", "2024-02-29", "2024-02-29 09:15", "false", "Ravi", "NULL"],
    ["-3", "", "", "2024-03-01", "yes", "", "n/a"],
    ["4", "1e3", "2023-12-01", "", "No", "Meera", ""],
    ["", "0.25", "2024-05-05", "2024-05-05T23:59:59.5+05:30", "", "Kiran", ""],
    ["6", "NaN", "2024-06-06", "2024-06-06 12:00", "TRUE", "Lakshmi", ""],
]


def test_csv_reports_rows_columns_types_nulls_and_samples(tmp_path):
    result = analyse(write(tmp_path, "people.csv", table(PEOPLE)), "csv")

    assert_well_formed(result)
    details = result.details
    assert details["kind"] == "csv"
    assert details["encoding"] == "utf-8"
    assert details["delimiter"] == ","
    assert details["rows"] == 6
    assert details["columns"] == 7
    assert details["header"] == PEOPLE[0]
    profiles = {p["name"]: (p["type"], p["nulls"]) for p in details["column_profiles"]}
    assert profiles == {
        "id": ("integer", 1),
        "price": ("decimal", 2),  # "" and the NaN marker
        "joined": ("date", 1),
        "seen": ("datetime", 1),  # a bare date among datetimes stays a datetime column
        "active": ("boolean", 1),
        "name": ("text", 1),
        "notes": ("empty", 6),  # only empty cells and markers
    }
    assert details["sample_rows"] == PEOPLE[1:6]
    assert details["formula_cells"] == 0
    assert details["ragged_rows"] == 0
    assert result.summary == (
        "A CSV file (UTF-8, comma-separated) with 6 rows and 7 columns: id (integer), price (decimal), "
        "joined (date), seen (datetime), active (boolean), name (text), notes (empty). 7 columns have "
        "empty or null cells (13 in all)."
    )


def test_csv_summary_uses_thousands_separators_and_no_values(tmp_path):
    rows = [["code", "secret"]] + [[str(i), f"SECRET-{i}"] for i in range(12_345)]
    result = analyse(write(tmp_path, "big.csv", table(rows)), "csv")

    assert result.details["rows"] == 12_345
    assert "12,345 rows" in result.summary
    assert "SECRET" not in result.summary  # values stay in the details
    assert result.details["sample_rows"][0] == ["0", "SECRET-0"]


FORMULA_ROWS = [
    ["a", "b", "c"],
    ["=SUM(A1:A2)", "-3", "plain"],
    ["-2+3+cmd|' /C calc'!A0", "+1.5e3", "@SUM(1+1)"],
    ["-", "=", "+44 20 7946 0958"],
    ["ok", "-0.5", "a=b"],
    ["--5", "+", '=HYPERLINK("http://example.invalid","x")'],
]


def test_csv_flags_formula_cells_with_their_locations_and_leaves_numbers_alone(tmp_path):
    result = analyse(write(tmp_path, "formulas.csv", table(FORMULA_ROWS)), "csv")

    details = result.details
    # Flagged: =SUM, -2+3+cmd, @SUM, +44 20..., --5, =HYPERLINK. Not: -3, +1.5e3, -, =, +, -0.5, a=b.
    assert details["formula_cells"] == 6
    assert details["formula_columns"] == 2
    assert [(p["name"], p["formula_cells"]) for p in details["column_profiles"]] == [
        ("a", 3),
        ("b", 0),
        ("c", 3),
    ]
    assert [(loc["row"], loc["column"], loc["column_name"]) for loc in details["formula_locations"]] == [
        (1, 1, "a"),
        (2, 1, "a"),
        (2, 3, "c"),
        (3, 3, "c"),
        (5, 1, "a"),
        (5, 3, "c"),
    ]
    assert "6 cells in 2 columns start with =, +, - or @ and could run as formulas in a spreadsheet." in (
        result.summary
    )


def test_a_column_of_signed_numbers_is_numeric_and_never_flagged(tmp_path):
    rows = [["delta"]] + [["-3"], ["+4"], ["-0.25"], ["-1e-3"]] * 1000
    result = analyse(write(tmp_path, "signed.csv", table(rows)), "csv")

    assert result.details["column_profiles"][0]["type"] == "decimal"
    assert result.details["formula_cells"] == 0
    assert "formula" not in result.summary


def test_only_the_first_twenty_formula_locations_are_kept(tmp_path):
    rows = [["x"]] + [["=1+1"]] * 50
    details = analyse(write(tmp_path, "many.csv", table(rows)), "csv").details

    assert details["formula_cells"] == 50
    assert [loc["row"] for loc in details["formula_locations"]] == list(range(1, 21))


def test_csv_ragged_rows_are_counted_and_their_extra_fields_checked(tmp_path):
    content = "a,b,c\n1,2,3\n\n4,5\n6,7,8,=cmd()\n9,10,11\n\n"
    result = analyse(write(tmp_path, "ragged.csv", content), "csv")

    details = result.details
    assert details["rows"] == 4  # blank lines are not rows
    assert details["blank_lines"] == 2
    assert details["ragged_rows"] == 2
    assert details["ragged_row_numbers"] == [2, 3]
    # The short row's missing field counts as empty; the extra field belongs to no column.
    assert [p["nulls"] for p in details["column_profiles"]] == [0, 0, 1]
    assert details["formula_locations"] == [{"row": 3, "column": 4, "column_name": None}]
    assert details["sample_rows"][1:3] == [["4", "5"], ["6", "7", "8", "=cmd()"]]
    assert "2 rows have a different number of fields than the header's 3." in result.summary


@pytest.mark.parametrize(
    ("content", "encoding", "expected", "label"),
    [
        ("name,city\nZoë,Köln\n", "utf-8", "utf-8", "UTF-8"),
        ("name,city\nZoë,Köln\n", "utf-8-sig", "utf-8-sig", "UTF-8 with a byte-order mark"),
        ("name,price\ncafé,€5\n", "cp1252", "cp1252", "Windows-1252"),
        ("name,city\nZoë,Köln\n", "utf-16", "utf-16", "UTF-16"),
    ],
)
def test_csv_encoding_is_detected_and_reported(tmp_path, content, encoding, expected, label):
    result = analyse(write(tmp_path, "enc.csv", content, encoding), "csv")

    assert result.details["encoding"] == expected
    assert result.details["header"] == ["name", result.details["header"][1]]  # no BOM in the first name
    assert result.details["sample_rows"] == [content.splitlines()[1].split(",")]
    assert f"({label}, comma-separated)" in result.summary


def test_bytes_undefined_in_cp1252_fall_back_to_latin_1(tmp_path):
    result = analyse(write(tmp_path, "latin.csv", b"name\nab\x81c\n"), "csv")

    assert result.details["encoding"] == "latin-1"
    assert result.details["sample_rows"] == [["ab\x81c"]]


def test_names_from_the_file_cannot_break_the_paragraph(tmp_path):
    header = ["first\nsecond\x1b[31m", "", "x" * 300]
    result = analyse(write(tmp_path, "names.csv", table([header, ["1", "2", "3"]])), "csv")

    assert_well_formed(result)
    assert "first second [31m (integer), column 2 (integer), " + "x" * 39 + "… (integer)" in result.summary
    assert result.details["header"] == [header[0], "", "x" * 200]  # details keep them, cut to 200


def test_tsv_and_semicolon_csv(tmp_path):
    tsv = analyse(write(tmp_path, "t.tsv", "a\tb\n1\t2,5\n"), "tsv")
    semicolon = analyse(write(tmp_path, "s.csv", "a;b;c\n1;2,5;x\n"), "csv")

    assert (tsv.details["delimiter"], tsv.details["columns"]) == ("\t", 2)
    assert [p["type"] for p in tsv.details["column_profiles"]] == ["integer", "text"]
    assert tsv.summary.startswith("A TSV file (UTF-8, tab-separated) with 1 row and 2 columns")
    assert (semicolon.details["delimiter"], semicolon.details["columns"]) == (";", 3)
    assert semicolon.details["sample_rows"] == [["1", "2,5", "x"]]


def test_empty_and_header_only_csv(tmp_path):
    empty = analyse(write(tmp_path, "empty.csv", ""), "csv")
    header = analyse(write(tmp_path, "header.csv", "\n\na,b\n"), "csv")

    assert_well_formed(empty)
    assert (empty.details["rows"], empty.details["columns"]) == (0, 0)
    assert empty.summary == "An empty CSV file: it has no header and no rows."
    assert (header.details["rows"], header.details["columns"], header.details["blank_lines"]) == (0, 2, 2)
    assert [p["type"] for p in header.details["column_profiles"]] == ["empty", "empty"]
    assert "with a header of 2 columns (a (empty), b (empty)) and no data rows" in header.summary


def test_quoted_records_spanning_lines_survive_every_group_boundary(tmp_path, monkeypatch):
    rows = [["id", "comment"]] + [[str(i), f"line one\nline two {i}\r\nend"] for i in range(300)]
    path = write(tmp_path, "multi.csv", table(rows))
    whole = analyse(path, "csv").details
    # Groups of a few characters: every record is cut by a group boundary, some several times.
    monkeypatch.setattr(delimited, "CSV_READ_CHARS", 7)
    grouped = analyse(path, "csv").details

    assert grouped == whole
    assert grouped["rows"] == 300
    assert grouped["ragged_rows"] == 0
    assert grouped["sample_rows"][0] == ["0", "line one\nline two 0\r\nend"]


# Each value with the type the documented grammar gives it (None: a null).
VOCABULARY = {
    "12": "integer",
    "-7": "integer",
    "+3": "integer",
    "007": "integer",
    "3.25": "decimal",
    "-0.5": "decimal",
    ".5": "decimal",
    "5.": "decimal",
    "1e5": "decimal",
    "-1.5E-3": "decimal",
    "true": "boolean",
    "No": "boolean",
    "YES": "boolean",
    "2024-02-29": "date",
    "31/12/2024": "date",
    "12/31/2024": "date",
    "2024/1/5": "date",
    "5.1.2024": "date",
    "2024-02-29T10:00": "datetime",
    "2024-02-29 10:00:05.123Z": "datetime",
    "12/31/2024 9:30 PM": "datetime",
    "2024-02-29T10:00+05:30": "datetime",
    "2024-13-01": "text",
    "2024-02-32": "text",
    "1,234": "text",
    "1.2.3": "text",
    "-": "text",
    "+-1": "text",
    "1e": "text",
    " 5": "text",
    "٣": "text",  # an Arabic-Indic digit is not [0-9]
    "0x1F": "text",
    "Y": "text",
    "abc": "text",
    "none of it": "text",
    "": None,
    "NULL": None,
    "n/a": None,
    "NaN": None,
    "#N/A": None,
    "\\N": None,
}
WIDER = {("decimal", "integer"): "decimal", ("date", "datetime"): "datetime"}


def expected_type(values) -> str:
    kinds = {VOCABULARY[v] for v in values} - {None}
    if not kinds:
        return "empty"
    if len(kinds) == 1:
        return kinds.pop()
    return WIDER.get(tuple(sorted(kinds)), "text")


@pytest.mark.parametrize("seed", range(60))
def test_column_types_and_nulls_match_the_grammar_for_any_mix_and_order(tmp_path, monkeypatch, seed):
    rnd = random.Random(seed)
    # Groups of about 60 characters: a column's type settles over many batches, then later values
    # (from a pool that may add other types) must widen it exactly as the grammar says.
    monkeypatch.setattr(delimited, "CSV_READ_CHARS", 60)
    first = rnd.sample(sorted(VOCABULARY), rnd.randint(1, 3))
    later = first + rnd.sample(sorted(VOCABULARY), rnd.randint(0, 2))
    values = [rnd.choice(first) for _ in range(rnd.randint(1, 200))]
    values += [rnd.choice(later) for _ in range(rnd.randint(0, 200))]
    path = write(tmp_path, "column.csv", table([["v"]] + [[v] for v in values]))

    profile = analyse(path, "csv").details["column_profiles"][0]

    assert profile["type"] == expected_type(values), (first, later)
    assert profile["nulls"] == sum(VOCABULARY[v] is None for v in values)


@pytest.mark.parametrize(
    ("settled", "later", "expected", "nulls", "formulas"),
    [
        ("12", ["2.5"], "decimal", 0, 0),
        ("12", ["12abc"], "text", 0, 0),
        ("12", ["", "NULL"], "integer", 2, 0),
        ("1.5", ["1.2.3"], "text", 0, 0),
        ("1.5", ["1e5", "-.5", "5."], "decimal", 0, 0),
        ("1.5", ["n/a"], "decimal", 1, 0),
        ("2024-01-31", ["2024-01-31T10:00"], "datetime", 0, 0),
        ("2024-01-31", ["31/01/2024"], "date", 0, 0),
        ("2024-01-31", ["2024-13-01"], "text", 0, 0),
        ("2024-01-31 10:00", ["2024-01-31"], "datetime", 0, 0),
        ("true", ["maybe"], "text", 0, 0),
        ("-5", ["-x", "-6"], "text", 0, 1),  # the numbers around the formula are not flagged
        ("5", ["=1+1"], "text", 0, 1),
        ("", ["NULL", "7"], "integer", 101, 0),
    ],
)
def test_a_settled_type_widens_only_as_later_batches_demand(
    tmp_path, monkeypatch, settled, later, expected, nulls, formulas
):
    monkeypatch.setattr(delimited, "CSV_READ_CHARS", 40)
    values = [settled] * 100 + later
    details = analyse(write(tmp_path, "w.csv", table([["v"]] + [[v] for v in values])), "csv").details

    profile = details["column_profiles"][0]
    assert (profile["type"], profile["nulls"], profile["formula_cells"]) == (expected, nulls, formulas)


def test_null_markers_are_exactly_the_documented_ones(tmp_path):
    near_misses = ["NAN", "Nan", "nil", "NONE", "na", "N/a", "#NA", "NULLS", "\\n", " NULL"]
    rows = [["v"]] + [[m] for m in delimited.MARKERS] + [[m] for m in near_misses]
    profile = analyse(write(tmp_path, "m.csv", table(rows)), "csv").details["column_profiles"][0]

    assert (profile["type"], profile["nulls"]) == ("text", len(delimited.MARKERS))


@pytest.mark.parametrize(
    ("content", "name"),
    [(b"\xef\xbb\xbfa,b\n1,\xff\n", "UTF-8"), ("a,b\n".encode("utf-16") + b"\x00", "UTF-16")],
)
def test_a_byte_order_mark_the_file_does_not_follow_is_refused(tmp_path, content, name):
    with pytest.raises(AnalysisError) as raised:
        analyse(write(tmp_path, "bom.csv", content), "csv")
    assert str(raised.value) == f"The file starts with a {name} byte-order mark but is not valid {name} text."


FORMULA_VOCABULARY = [
    "=1",
    "+1",
    "-1",
    "@a",
    "-1.5e3",
    "+.5",
    "-x",
    "=",
    "-",
    "+",
    "@",
    "a",
    "",
    "--1",
    "1-2",
    "-1 ",
]


def is_formula(value: str) -> bool:
    """The documented rule, written independently of the module's joined-column regex."""
    if len(value) < 2 or value[0] not in "=+-@":
        return False
    return not (
        value[0] in "+-" and re.fullmatch(r"[+-](?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", value)
    )


@pytest.mark.parametrize("seed", range(20))
def test_formula_counts_and_locations_match_the_rule(tmp_path, monkeypatch, seed):
    rnd = random.Random(seed)
    monkeypatch.setattr(delimited, "CSV_READ_CHARS", 50)
    rows = [
        [rnd.choice(FORMULA_VOCABULARY), rnd.choice(FORMULA_VOCABULARY)] for _ in range(rnd.randint(1, 300))
    ]
    details = analyse(write(tmp_path, "f.csv", table([["p", "q"]] + rows)), "csv").details

    expected = [
        (r + 1, c + 1) for r, row in enumerate(rows) for c, value in enumerate(row) if is_formula(value)
    ]
    assert details["formula_cells"] == len(expected)
    assert [p["formula_cells"] for p in details["column_profiles"]] == [
        sum(1 for _, c in expected if c == column) for column in (1, 2)
    ]
    # Locations come column by column within a batch; the set of the first twenty is what is promised.
    found = {(loc["row"], loc["column"]) for loc in details["formula_locations"]}
    assert len(found) == min(20, len(expected))
    assert found <= set(expected)


def test_csv_with_a_10_mb_line_is_refused_with_its_line_number(tmp_path):
    content = "a,b\n1,2\n" + "x" * (10 * 1024 * 1024) + "\n3,4\n"
    with pytest.raises(
        AnalysisError, match=r"^Line 3 is longer than 1 MiB; a line that long cannot be analysed"
    ):
        analyse(write(tmp_path, "long.csv", content), "csv")


def test_csv_field_over_the_csv_module_limit_is_refused(tmp_path):
    content = 'a\n"' + ("y" * 1000 + "\n") * 200 + '"\n'  # one quoted field of 200 kB over short lines
    with pytest.raises(
        AnalysisError,
        match=r"^The file could not be read as CSV: a field is longer than 131,072 characters \(is a quote left open\?\)\.$",
    ):
        analyse(write(tmp_path, "field.csv", content), "csv")


def test_csv_record_spanning_megabytes_of_short_lines_is_refused(tmp_path):
    content = "a\n" + '"q\n",' * 500_000 + "z\n"  # short quoted fields: one record of 3 MB
    with pytest.raises(AnalysisError, match=r"^A record spans more than 2 MiB"):
        analyse(write(tmp_path, "record.csv", content), "csv")


def test_csv_header_wider_than_excel_is_refused(tmp_path):
    with pytest.raises(AnalysisError, match=r"^The header has 20,000 columns; at most 16,384"):
        analyse(write(tmp_path, "wide.csv", ",".join(["c"] * 20_000) + "\n"), "csv")


def test_binary_garbage_declared_as_csv_is_refused(tmp_path):
    garbage = random.Random(7).randbytes(64 * 1024)
    with pytest.raises(AnalysisError, match=r"contains NUL bytes, so it holds binary data rather than text"):
        analyse(write(tmp_path, "garbage.csv", garbage), "csv")


# --- JSON -------------------------------------------------------------------------------------------


def test_json_array_of_records(tmp_path):
    records = [{"id": 1, "name": "a", "tags": ["x"]}, {"id": 2, "meta": {"deep": [1, [2]]}}, 3, [4], None]
    result = analyse(write(tmp_path, "a.json", json.dumps(records)), "json")

    assert_well_formed(result)
    assert result.details == {
        "kind": "json",
        "bytes": len(json.dumps(records)),
        "encoding": "utf-8",
        "top_level": "array",
        "records": 5,
        "record_types": {"object": 2, "number": 1, "array": 1, "null": 1},
        "keys": ["id", "name", "tags", "meta"],
        "keys_truncated": False,
        "max_depth": 5,  # array > object > object > array > array
        "depth_limit": 64,
        "depth_exceeded": False,
        "complete": True,
    }
    assert result.summary == (
        "A JSON file holding an array of 5 records (2 of them objects). The objects use 4 distinct keys "
        "(id, name, tags, meta). The deepest nesting is 5 levels."
    )


def test_json_top_level_object_and_scalar(tmp_path):
    obj = analyse(write(tmp_path, "o.json", '\ufeff{"a": {"b": 1}, "c": []}'), "json")  # with a BOM
    scalar = analyse(write(tmp_path, "s.json", ' "just text" '), "json")

    assert (obj.details["records"], obj.details["keys"], obj.details["max_depth"]) == (1, ["a", "c"], 2)
    assert obj.summary == (
        "A JSON file holding a single object with 2 top-level keys (a, c). The deepest nesting is 2 levels."
    )
    assert (scalar.details["top_level"], scalar.details["records"], scalar.details["max_depth"]) == (
        "string",
        1,
        0,
    )
    assert scalar.summary == "A JSON file holding a single string value."


def test_json_keys_are_capped(tmp_path):
    records = [{f"k{i}": i} for i in range(1_500)]
    details = analyse(write(tmp_path, "k.json", json.dumps(records)), "json").details

    assert len(details["keys"]) == 1_000
    assert details["keys"][:2] == ["k0", "k1"]
    assert details["keys_truncated"] is True


def test_json_100000_levels_deep_is_reported_not_crashed(tmp_path):
    deep = b'[{"a": 1}, {"b": 2}, ' + b"[" * 100_000 + b"]" * 100_000 + b"]"
    result = analyse(write(tmp_path, "deep.json", deep), "json")

    assert_well_formed(result)
    details = result.details
    assert details["depth_exceeded"] is True
    assert details["complete"] is False
    assert details["max_depth"] == 65  # the first level past the limit, where reading stopped
    assert details["records"] == 3
    assert details["keys"] == ["a", "b"]
    assert result.summary == (
        "A JSON file nested deeper than 64 levels, the most this analysis follows, so it was not read "
        "past that point; before it, the top-level array holds 3 records."
    )


def test_json_depth_limit_comes_from_settings(tmp_path, settings):
    settings.UPLOAD_MAX_JSON_DEPTH = 3
    at_limit = analyse(write(tmp_path, "3.json", "[[[1]]]"), "json").details
    past = analyse(write(tmp_path, "4.json", "[[[[1]]]]"), "json").details

    assert (at_limit["max_depth"], at_limit["depth_exceeded"]) == (3, False)
    assert (past["max_depth"], past["depth_exceeded"], past["depth_limit"]) == (4, True, 3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not json", "it contains characters that are not JSON"),
        (b'{"a": [1, 2', "it ends in the middle of a value (is it truncated?)"),
        (b"", "it is empty"),
        (b"  \n ", "it is empty"),
        (b'{"a": 1} {"b": 2}', "more content follows the first JSON value"),
        (b'["caf\xe9"]', "it contains bytes that are not UTF-8"),
        (b"[NaN]", "it contains characters that are not JSON"),
        (b"[1e999999]", None),  # a huge exponent is a number, read as a Decimal: not an error
    ],
)
def test_json_that_is_not_json(tmp_path, content, message):
    path = write(tmp_path, "bad.json", content)
    if message is None:
        assert analyse(path, "json").details["records"] == 1
        return
    with pytest.raises(AnalysisError) as raised:
        analyse(path, "json")
    assert str(raised.value) == f"The file is not valid JSON: {message}."


def test_json_with_an_enormous_integer_is_refused_without_crashing(tmp_path):
    # ijson's C backend turns such an integer into a NULL value and crashed the process on it once
    # any document with keys had been parsed before: this runs both in the same process.
    analyse(write(tmp_path, "first.json", json.dumps([{"id": 1, "name": "a"}, [None]])), "json")
    for number in ("9" * 5000, "-" + "1" * 4301, "1e9999999999999999999"):
        with pytest.raises(AnalysisError) as raised:
            analyse(write(tmp_path, "n.json", '{"a": [1, ' + number + "]}"), "json")
        assert str(raised.value) == (
            "The file holds a number too long or too large to read (more than 4,300 digits, or an "
            "exponent out of range)."
        )


def test_json_with_long_digit_runs_that_are_fine(tmp_path):
    content = json.dumps({"digits": "7" * 5000, "list": [1, 2]})[:-1] + ', "fraction": 1.' + "0" * 5000 + "}"
    details = analyse(write(tmp_path, "ok.json", content), "json").details

    assert (details["records"], details["keys"], details["max_depth"]) == (
        1,
        ["digits", "list", "fraction"],
        2,
    )


def test_json_in_utf_16_is_refused(tmp_path):
    with pytest.raises(AnalysisError, match=r"^The file is UTF-16 text; JSON must be UTF-8\.$"):
        analyse(write(tmp_path, "u.json", '{"a": 1}', "utf-16"), "json")


# --- NDJSON -----------------------------------------------------------------------------------------


def test_ndjson_records_keys_invalid_lines_and_a_deep_line(tmp_path):
    lines = [
        '{"id": 1, "name": "a"}',
        "",
        '{"id": 2, "extra": {"x": [1]}}',
        "{not json",
        "[1, 2]",
        "[" * 100_000 + "]" * 100_000,
        '{"a": 1} {"b": 2}',
        '"text"',
        "   ",
        '{"id": 3',
        '{"big": ' + "9" * 5000 + "}",
    ]
    result = analyse(write(tmp_path, "r.ndjson", "\n".join(lines) + "\n"), "ndjson")

    assert_well_formed(result)
    details = result.details
    assert details["records"] == 5
    assert details["record_types"] == {"object": 2, "array": 2, "string": 1}
    assert details["blank_lines"] == 2
    assert details["invalid_lines"] == 4
    assert details["invalid_line_numbers"] == [4, 7, 10, 11]
    assert details["keys"] == ["id", "name", "extra"]
    assert details["max_depth"] == 65
    assert details["depth_exceeded"] is True
    assert details["depth_exceeded_lines"] == [6]
    assert result.summary == (
        "A newline-delimited JSON file with 5 records (2 of them objects). The objects use 3 distinct keys "
        "(id, name, extra). The deepest nesting is 64 levels. Some records are nested deeper than 64 levels, "
        "the most this analysis follows, and were not read past that point. 4 lines are not valid JSON."
    )


def test_ndjson_line_longer_than_the_limit_is_an_invalid_line(tmp_path, monkeypatch):
    monkeypatch.setattr(ndjson, "NDJSON_MAX_LINE_BYTES", 100)
    content = '{"a": 1}\n{"b": "' + "z" * 1000 + '"}\n{"c": 3}\n'
    details = analyse(write(tmp_path, "l.ndjson", content), "ndjson").details

    assert (details["records"], details["invalid_lines"], details["invalid_line_numbers"]) == (2, 1, [2])
    assert details["keys"] == ["a", "c"]


# --- Text -------------------------------------------------------------------------------------------


def test_text_lines_words_characters_and_longest_line(tmp_path):
    content = "Hello world\r\nsecond line here\n\nlast line without break"
    result = analyse(write(tmp_path, "t.txt", content), "text")

    assert_well_formed(result)
    assert result.details == {
        "kind": "text",
        "bytes": len(content),
        "encoding": "utf-8",
        "lines": 4,
        "words": 9,
        "characters": len(content) - 1,  # \r\n counts as one character
        "longest_line": len("last line without break"),
    }
    assert result.summary == (
        "A text file (UTF-8) with 4 lines, 9 words and 53 characters; the longest line has 23 characters."
    )


def test_text_figures_do_not_depend_on_read_chunks(tmp_path, monkeypatch):
    rnd = random.Random(3)
    content = "".join(rnd.choice(["word", " ", "\n", "é", "\t", "longerword"]) for _ in range(5_000))
    path = write(tmp_path, "chunks.txt", content)
    whole = analyse(path, "text").details
    monkeypatch.setattr(text, "TEXT_READ_CHARS", 7)

    assert analyse(path, "text").details == whole
    assert whole["words"] == len(content.split())
    assert whole["lines"] == content.count("\n") + (not content.endswith("\n"))
    assert whole["longest_line"] == max(map(len, content.split("\n")))


def test_text_with_a_10_mb_line(tmp_path):
    content = "short\n" + "y" * (10 * 1024 * 1024) + "\nend"
    details = analyse(write(tmp_path, "long.txt", content), "text").details

    assert (details["lines"], details["words"], details["longest_line"]) == (3, 3, 10 * 1024 * 1024)


def test_text_in_windows_1252_and_empty_text(tmp_path):
    legacy = analyse(write(tmp_path, "w.txt", "naïve café – “quoted”\n", "cp1252"), "text")
    empty = analyse(write(tmp_path, "e.txt", ""), "text")

    assert (legacy.details["encoding"], legacy.details["words"]) == ("cp1252", 4)
    assert "(Windows-1252)" in legacy.summary
    assert (empty.summary, empty.details["lines"]) == ("An empty text file.", 0)


def test_binary_garbage_declared_as_text_is_refused(tmp_path):
    garbage = random.Random(1).randbytes(256 * 1024)
    with pytest.raises(AnalysisError, match=r"contains NUL bytes, so it holds binary data rather than text"):
        analyse(write(tmp_path, "g.txt", garbage), "text")
    # Without a NUL byte, control characters give it away.
    controls = bytes(random.Random(2).choice(range(1, 32)) for _ in range(10_000))
    with pytest.raises(
        AnalysisError, match=r"^The file looks like binary data, not text: [\d,]+ of its 10,000"
    ):
        analyse(write(tmp_path, "c.txt", controls), "text")


# --- Excel workbooks --------------------------------------------------------------------------------


def workbook(tmp_path, name="book.xlsx"):
    book = Workbook()
    orders = book.active
    orders.title = "Orders"
    orders.append(["id", "amount", "note"])
    for i in range(1, 11):
        orders.append([i, i * 1.5, None if i % 2 else "even"])
    book.create_sheet("Empty")
    sparse = book.create_sheet("Sparse")
    sparse["C5"] = "x"
    sparse["A10"] = 0
    sparse["E2"] = ""  # an empty string holds no value
    path = tmp_path / name
    book.save(path)
    return path


def test_xlsx_sheets_with_rows_columns_and_cells(tmp_path):
    # Stored files are named after their id, without the client's extension.
    path = workbook(tmp_path).rename(tmp_path / "0193a5c2e4b87c3d")
    result = analyse(path, "xlsx")

    assert_well_formed(result)
    assert result.details["sheet_count"] == 3
    assert result.details["sheets"] == [
        {"name": "Orders", "rows": 11, "columns": 3, "cells": 3 + 10 * 2 + 5},
        {"name": "Empty", "rows": 0, "columns": 0, "cells": 0},
        {"name": "Sparse", "rows": 10, "columns": 3, "cells": 2},
    ]
    assert result.summary == (
        "An Excel workbook with 3 sheets: Orders (11 rows × 3 columns), Empty (empty), "
        "Sparse (10 rows × 3 columns)."
    )


def rewrite(path, replacements: dict[str, bytes]):
    """The same workbook with some of its parts replaced."""
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts.update(replacements)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


SHEET = (
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="{dim}"/>'
    "<sheetData>{rows}</sheetData></worksheet>"
)


def test_xlsx_dimension_that_lies_is_ignored(tmp_path):
    path = rewrite(
        workbook(tmp_path),
        {
            "xl/worksheets/sheet1.xml": SHEET.format(
                dim="A1:XFD1048576", rows='<row r="2"><c r="B2" t="n"><v>5</v></c></row>'
            ).encode()
        },
    )
    sheet = analyse(path, "xlsx").details["sheets"][0]

    assert sheet == {"name": "Orders", "rows": 2, "columns": 2, "cells": 1}


def test_xlsx_sheet_claiming_more_rows_than_excel_is_refused(tmp_path):
    path = rewrite(
        workbook(tmp_path),
        {
            "xl/worksheets/sheet3.xml": SHEET.format(
                dim="A1", rows='<row r="2000000"><c r="A2000000"><v>1</v></c></row>'
            ).encode()
        },
    )
    with pytest.raises(AnalysisError, match=r"^Sheet Sparse claims more than 1,048,576 rows"):
        analyse(path, "xlsx")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("random", "The workbook is damaged or not an XLSX file (it is not a readable ZIP archive)."),
        ("truncated", "The workbook is damaged or not an XLSX file (it is not a readable ZIP archive)."),
        ("plain zip", "The workbook is damaged or not a valid XLSX file."),
        ("sheet xml cut at once", "The workbook is damaged or not a valid XLSX file."),
        ("sheet xml cut later", "The workbook is damaged: sheet Orders cannot be read."),
    ],
)
def test_corrupt_xlsx_is_refused(tmp_path, damage, message):
    path = workbook(tmp_path)
    if damage == "random":
        path.write_bytes(random.Random(5).randbytes(5000))
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "plain zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "not a workbook")
    elif damage == "sheet xml cut at once":  # opening reads each sheet's <dimension> already
        rewrite(path, {"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row r='1'><c r='A1'"})
    else:  # a sound <dimension>, then cells cut short: found while reading the rows
        cut = SHEET.format(dim="A1:B2", rows='<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r=')
        rewrite(path, {"xl/worksheets/sheet1.xml": cut.encode()[: -len("</sheetData></worksheet>")]})
    with pytest.raises(AnalysisError) as raised:
        analyse(path, "xlsx")
    assert str(raised.value) == message


def test_xlsx_archive_limits_from_settings(tmp_path, settings):
    path = workbook(tmp_path)
    settings.UPLOAD_MAX_ARCHIVE_ENTRIES = 3
    with pytest.raises(AnalysisError, match=r"^The workbook holds \d+ parts, more than the 3 allowed\.$"):
        analyse(path, "xlsx")
    settings.UPLOAD_MAX_ARCHIVE_ENTRIES = 10_000
    settings.UPLOAD_MAX_UNPACKED_BYTES = 1_000
    with pytest.raises(
        AnalysisError, match=r"^The workbook would unpack to [\d,]+ bytes, more than the 1,000"
    ):
        analyse(path, "xlsx")


# --- Images -----------------------------------------------------------------------------------------


def image_bytes(fmt: str, size=(40, 30), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color=0).save(buffer, format=fmt)
    return buffer.getvalue()


def test_png_and_jpeg_dimensions_and_mode(tmp_path):
    png = analyse(write(tmp_path, "i.png", image_bytes("PNG", (3, 2), "RGBA")), "png")
    jpeg = analyse(write(tmp_path, "i.jpg", image_bytes("JPEG", (1600, 1200))), "jpeg")

    assert_well_formed(png)
    assert {k: png.details[k] for k in ("format", "width", "height", "mode", "frames")} == {
        "format": "PNG",
        "width": 3,
        "height": 2,
        "mode": "RGBA",
        "frames": 1,
    }
    assert png.summary == "A PNG image of 3 × 2 pixels in RGB colour with transparency."
    assert (jpeg.details["width"], jpeg.details["height"], jpeg.details["mode"]) == (1600, 1200, "RGB")
    assert jpeg.summary == "A JPEG image of 1,600 × 1,200 pixels in RGB colour."
    assert png.details["trailing_bytes"] == jpeg.details["trailing_bytes"] == 0


HTML = b"<html><body><script>alert(document.cookie)</script></body></html>\n"


def test_png_with_html_after_iend_is_flagged_as_a_polyglot(tmp_path):
    result = analyse(write(tmp_path, "poly.png", image_bytes("PNG", (3, 2)) + HTML), "png")

    assert_well_formed(result)
    assert result.details["trailing_bytes"] == len(HTML) == 66
    assert result.summary == (
        "A PNG image of 3 × 2 pixels in RGB colour. Flagged: 66 bytes follow the end of the image "
        "(the IEND chunk), where data can hide another file (a polyglot)."
    )


@pytest.mark.parametrize(("extra", "count"), [(b"\x00", "1 byte follows"), (b"\xff\xd9", "2 bytes follow")])
def test_any_byte_after_the_end_of_an_image_counts(tmp_path, extra, count):
    png = analyse(write(tmp_path, "i.png", image_bytes("PNG") + extra), "png")
    jpeg = analyse(write(tmp_path, "i.jpg", image_bytes("JPEG") + extra), "jpeg")

    assert png.details["trailing_bytes"] == jpeg.details["trailing_bytes"] == len(extra)
    assert f"Flagged: {count} the end of the image (the IEND chunk)" in png.summary
    assert f"Flagged: {count} the end of the image (the EOI marker)" in jpeg.summary


def jpeg_with_exif(payload: bytes, **options) -> bytes:
    buffer = io.BytesIO()
    noise = Image.effect_noise((64, 48), 80).convert("RGB")  # entropy data full of stuffed 0xFF bytes
    noise.save(buffer, format="JPEG", exif=b"Exif\x00\x00" + payload, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "options",
    [{}, {"progressive": True}, {"restart_marker_blocks": 1}],
    ids=["baseline", "progressive", "restarts"],
)
@pytest.mark.parametrize("block", [64 * 1024, 2], ids=["blocks", "markers-split-across-blocks"])
def test_jpeg_end_is_its_own_eoi_not_a_thumbnails(tmp_path, monkeypatch, options, block):
    monkeypatch.setattr("uploads.analysis.images.IMAGE_SCAN_BYTES", block)
    # An EXIF block may hold a whole thumbnail JPEG (its own SOI ... EOI): the image ends later.
    thumbnail = b"\xff\xd8\xff\xdb" + bytes(64) + b"\xff\xd9"
    data = jpeg_with_exif(thumbnail, **options)
    assert b"\xff\x00" in data and (b"\xff\xd0" in data) == ("restart_marker_blocks" in options)
    clean = analyse(write(tmp_path, "clean.jpg", data), "jpeg")
    polyglot = analyse(write(tmp_path, "poly.jpg", data + HTML), "jpeg")

    assert clean.details["trailing_bytes"] == 0 and "Flagged" not in clean.summary
    assert polyglot.details["trailing_bytes"] == len(HTML)
    assert polyglot.summary.endswith(
        "Flagged: 66 bytes follow the end of the image (the EOI marker), where data can hide another "
        "file (a polyglot)."
    )


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_images_are_refused(tmp_path, fmt):
    data = image_bytes(fmt, (400, 300))
    path = write(tmp_path, "cut", data[: len(data) // 2])
    with pytest.raises(AnalysisError) as raised:
        analyse(path, fmt.lower())
    assert str(raised.value) == f"The {fmt} image is damaged or truncated."


def png_header_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose IHDR claims a size its few bytes of pixels could never fill."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def test_png_claiming_100000_by_100000_pixels_is_refused_as_a_bomb(tmp_path):
    previous = Image.MAX_IMAGE_PIXELS
    with pytest.raises(AnalysisError) as raised:
        analyse(write(tmp_path, "bomb.png", png_header_claiming(100_000, 100_000)), "png")

    assert str(raised.value) == (
        "The image is larger (10,000,000,000 pixels) than the 50,000,000 pixels that can be analysed, "
        "a possible decompression bomb."
    )
    assert previous == Image.MAX_IMAGE_PIXELS  # the process-wide limit is put back


def test_pillow_bomb_warning_is_a_refusal_too(tmp_path, settings):
    # 6 pixels against a limit of 5: past the limit but under twice it, where Pillow only warns.
    settings.UPLOAD_MAX_IMAGE_PIXELS = 5
    with pytest.raises(AnalysisError, match=r"^The image is larger \(6 pixels\) than the 5 pixels"):
        analyse(write(tmp_path, "small.png", image_bytes("PNG", (3, 2))), "png")


def test_image_of_another_format_than_its_kind_is_refused(tmp_path):
    with pytest.raises(AnalysisError, match=r"^The file is not a readable PNG image\.$"):
        analyse(write(tmp_path, "j.png", image_bytes("JPEG")), "png")


# --- Any kind ---------------------------------------------------------------------------------------


def test_unknown_kind_is_refused(tmp_path):
    with pytest.raises(AnalysisError, match=r"^Files of this kind \(pdf\) are not analysed\.$"):
        analyse(write(tmp_path, "x.pdf", b"%PDF"), "pdf")


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_is_left_as_it_was(tmp_path, enabled):
    import gc

    good = write(tmp_path, "good.csv", table(PEOPLE))
    bad = write(tmp_path, "bad.csv", "a\n" + '"q\n",' * 500_000 + "z\n")  # refused mid-read
    (gc.enable if enabled else gc.disable)()
    try:
        analyse(good, "csv")
        assert gc.isenabled() is enabled
        with pytest.raises(AnalysisError, match="A record spans more than 2 MiB"):
            analyse(bad, "csv")
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_an_unexpected_failure_becomes_an_analysis_error_and_is_logged(tmp_path, monkeypatch, caplog):
    def broken(path):
        raise KeyError("bug")

    monkeypatch.setitem(registry.ANALYSERS, "text", broken)
    with pytest.raises(AnalysisError, match=r"^The file could not be analysed as text\.$"):
        analyse(write(tmp_path, "t.txt", "hello"), "text")
    assert "Unexpected error analysing a text file" in caplog.text


def test_every_sniffed_kind_has_exactly_one_registered_analyser(tmp_path):
    assert sorted(registry.ANALYSERS) == sorted(registry.KINDS)
    path = tmp_path / "file.pdf"
    path.write_bytes(b"%PDF-1.7")
    with pytest.raises(AnalysisError, match=r"Files of this kind \(pdf\) are not analysed\."):
        analyse(path, "pdf")
