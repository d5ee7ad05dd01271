"""The analysers by file kind, and `analyse()`, which runs one with a last-resort net."""

import logging
import os
from dataclasses import dataclass

logger = logging.getLogger(__name__)


KINDS = ("csv", "tsv", "json", "ndjson", "text", "xlsx", "png", "jpeg")

KIND_NAMES = {
    "csv": "a CSV table",
    "tsv": "a TSV table",
    "json": "JSON",
    "ndjson": "newline-delimited JSON",
    "text": "text",
    "xlsx": "an Excel workbook",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
}

# Filled by each kind's module (register); uploads/analysis/__init__.py imports them all.
ANALYSERS: dict = {}


@dataclass(frozen=True)
class Analysis:
    summary: str
    details: dict


class AnalysisError(Exception):
    """The file cannot be analysed (corrupt, a decompression bomb, too deep...): message for the owner."""


def analyse(path: str | os.PathLike, kind: str) -> Analysis:
    """Analyse the file at `path`, whose content was sniffed as `kind` (one of KINDS)."""
    path = os.fspath(path)
    analyser = ANALYSERS.get(kind)
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
        raise AnalysisError(f"The file could not be analysed as {KIND_NAMES[kind]}.") from None
    return Analysis(summary=summary, details={"kind": kind, "bytes": size, **details})


def register(*kinds: str):
    """`@register("csv")` on a function of the file's path: it analyses files sniffed as that kind."""

    def wrap(analyser):
        for kind in kinds:
            ANALYSERS[kind] = analyser
        return analyser

    return wrap
