"""JSON documents, streamed: the top-level shape, the keys and how deep they nest."""

import codecs
import re
import sys

from django.conf import settings

from .registry import AnalysisError, register
from .shared import NAME_CHARS, TEXT_CHUNK_BYTES, display, n, names

MAX_KEYS = 1_000
JSON_BUFFER_BYTES = 64 * 1024


# --- JSON and NDJSON --------------------------------------------------------------------------------


class JsonShape:
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


NUMBER_TOO_LONG = "it holds a number too long or too large to read"


def json_error(error: Exception, *, started: bool) -> str:
    """
    What is wrong, in words for the owner. yajl's messages (C backend) carry a window of the file
    after their first line, the pure-Python backend's quote the offending token: neither is repeated.
    """
    if isinstance(error, UnicodeDecodeError):
        return "it contains bytes that are not UTF-8"
    if isinstance(error, ArithmeticError) or (isinstance(error, ValueError) and "digits" in str(error)):
        return NUMBER_TOO_LONG  # a Decimal exponent out of range, int() over its digit limit
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
        return NUMBER_TOO_LONG
    return "it contains characters that are not JSON"


# Every byte a digit or not, as b"1" or b"0": a run of digits becomes a run of b"1" to search for.
_DIGIT_MARKS = bytes(0x31 if 0x30 <= byte <= 0x39 else 0x30 for byte in range(256))


def json_backend(chunks):
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


def _ijson_backend(name: str | None):
    """A backend module of ijson (None: its default, the fastest installed), by ijson's public get_backend."""
    import ijson

    return ijson.get_backend(name or ijson.backend)


# The errors a parse can end in that are the document's fault: JSON errors, int() over its digit
# limit (pure-Python backend), a Decimal exponent out of range (C backend).
JSON_ERRORS = (ValueError, ArithmeticError)


@register("json")
def _analyse_json(path: str) -> tuple[str, dict]:
    import ijson

    shape = JsonShape(settings.UPLOAD_MAX_JSON_DEPTH)
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise AnalysisError("The file is UTF-16 text; JSON must be UTF-8.")
        start = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
        handle.seek(start)
        backend = json_backend(iter(lambda: handle.read(TEXT_CHUNK_BYTES), b""))
        handle.seek(start)
        try:
            top = shape.follow(backend.basic_parse(handle, buf_size=JSON_BUFFER_BYTES), stream=True)
        except (ijson.JSONError, *JSON_ERRORS) as error:
            reason = json_error(error, started=shape.top is not None)
            if reason == NUMBER_TOO_LONG:
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


def _json_summary(top: str | None, shape: JsonShape) -> str:
    if shape.exceeded:
        text = (
            f"A JSON file nested deeper than {shape.limit:,} levels, the most this analysis follows, "
            "so it was not read past that point"
        )
        if top == "array":
            text += f"; before it, the top-level array holds {n(shape.records, 'record')}"
        return text + "."
    if top == "array":
        parts = [f"A JSON file holding an array of {n(shape.records, 'record')}"]
        objects = shape.types.get("object", 0)
        if objects and objects != shape.records:
            parts[0] += f" ({objects:,} of them objects)"
        parts[0] += "."
        if shape.keys:
            parts.append(f"The objects use {keys(shape)}.")
    elif top == "object":
        parts = [f"A JSON file holding a single object with {keys(shape, 'top-level key')}."]
    else:
        return f"A JSON file holding a single {top} value."
    parts.append(f"The deepest nesting is {n(shape.max_depth, 'level')}.")
    return " ".join(parts)


def keys(shape: JsonShape, noun: str = "distinct key") -> str:
    count = len(shape.keys)
    listed = names([display(k) for k in shape.keys], noun)
    if shape.keys_truncated:
        return f"more than {count:,} {noun}s, the first being {listed}"
    return f"{n(count, noun)} ({listed})"
