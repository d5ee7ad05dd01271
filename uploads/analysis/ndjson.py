"""Newline-delimited JSON: one value per line, each checked on its own."""

import codecs
import io

from django.conf import settings

from .jsondoc import JSON_ERRORS, JsonShape, json_backend, keys
from .registry import register
from .shared import ROW_NUMBERS, n

NDJSON_MAX_LINE_BYTES = 16 * 1024 * 1024


@register("ndjson")
def _analyse_ndjson(path: str) -> tuple[str, dict]:
    import ijson

    shape = JsonShape(settings.UPLOAD_MAX_JSON_DEPTH)
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


def _ndjson_line(shape: JsonShape, line: bytes, ijson) -> str | None:
    """
    One line's value into `shape`: "ok", or "deep" when it goes past the depth limit; None (and
    `shape` untouched) when the line is not one JSON value.
    """
    trial = JsonShape(shape.limit)
    try:
        trial.follow(json_backend([line]).basic_parse(io.BytesIO(line)), stream=False)
    except (ijson.JSONError, *JSON_ERRORS):
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


def _ndjson_summary(shape: JsonShape, invalid: int, exceeded: list[int]) -> str:
    parts = [f"A newline-delimited JSON file with {n(shape.records, 'record')}"]
    objects = shape.types.get("object", 0)
    if shape.records and objects != shape.records:
        parts[0] += f" ({objects:,} of them objects)"
    parts[0] += "."
    if shape.keys:
        parts.append(f"The objects use {keys(shape)}.")
    if shape.records:
        parts.append(f"The deepest nesting is {n(min(shape.max_depth, shape.limit), 'level')}.")
    if shape.exceeded:
        parts.append(
            f"Some records are nested deeper than {shape.limit:,} levels, the most this analysis "
            "follows, and were not read past that point."
        )
    if invalid:
        parts.append(f"{n(invalid, 'line')} {'is' if invalid == 1 else 'are'} not valid JSON.")
    return " ".join(parts)
