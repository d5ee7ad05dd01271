"""Excel workbooks, read-only and bounded: sheets and their extent, after the archive is checked."""

import logging
import zipfile

from django.conf import settings

from .registry import AnalysisError, register
from .shared import display, n, names

logger = logging.getLogger(__name__)

# Excel's row limit; a sheet that claims more is damaged or hostile (openpyxl would pad every gap).
XLSX_MAX_ROWS = 1_048_576
# Read-only openpyxl still holds the whole shared-strings table in memory.
XLSX_MAX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024


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


@register("xlsx")
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
            raise AnalysisError(f"The workbook is damaged: sheet {display(name)} cannot be read.") from None
        finally:
            workbook.close()
    details = {"sheet_count": len(sheets), "sheets": sheets}
    if not sheets:
        return "An Excel workbook with no worksheets.", details
    described = names(
        [
            f"{display(s['name'])} ({n(s['rows'], 'row')} × {n(s['columns'], 'column')})"
            if s["cells"]
            else f"{display(s['name'])} (empty)"
            for s in sheets
        ],
        "sheet",
    )
    return f"An Excel workbook with {n(len(sheets), 'sheet')}: {described}.", details


def _sheet_extent(sheet) -> dict:
    # The <dimension> a file declares may lie (and openpyxl pads rows up to it): read real cells only.
    sheet.reset_dimensions()
    rows = columns = cells = 0
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > XLSX_MAX_ROWS:
            raise AnalysisError(
                f"Sheet {display(sheet.title)} claims more than {XLSX_MAX_ROWS:,} rows, Excel's limit: "
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
