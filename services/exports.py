"""Exports of what a list shows, CSV or XLSX, streamed: never the whole table in memory.

Text is exported as people typed it, with spreadsheet formulas neutralised (OWASP "CSV
injection"): in CSV a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading apostrophe; in XLSX every text is written as a string cell, never a
formula, a number or a link (xlsxwriter, ``constant_memory``).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from services.lists import KINDS, Query, every_row

FORMATS = ("csv", "xlsx")
_TRIGGERS = frozenset("=+-@\t\r")
CHUNK = 64 * 1024


def neutral(value: Any) -> str:
    """A cell's text, safe to open in a spreadsheet."""
    if value.__class__ is str:
        return "'" + value if value[:1] in _TRIGGERS else value
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text[:1] in _TRIGGERS else text


def csv_chunks(columns: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The CSV (UTF-8 with a BOM, which spreadsheet programs need) in chunks of ~64 KiB;
    each row's values in the order of ``columns``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutral(v) for v in row])
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def write_xlsx(columns: tuple[str, ...], rows: Iterable[Sequence[Any]], path: Path) -> int:
    """The workbook at ``path``, written row by row (``constant_memory``); returns the rows."""
    book = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = book.add_worksheet("export")
    for col, name in enumerate(columns):
        sheet.write_string(0, col, name)
    count = 0
    for count, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if isinstance(value, int | float) and not isinstance(value, bool):
                sheet.write_number(count, col, value)
            else:
                sheet.write_string(count, col, "" if value is None else _plain(value))
    book.close()
    return count


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def xlsx_chunks(columns: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The workbook, built in a temporary file at constant memory, then read in chunks."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.xlsx"
        write_xlsx(columns, rows, path)
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk


def export(engine: Any, query: Query, fmt: str) -> Iterator[bytes]:
    """The list ``query`` asks for, as ``fmt`` (csv or xlsx), in chunks."""
    columns = KINDS[query.kind].columns
    rows = every_row(engine, query)
    return csv_chunks(columns, rows) if fmt == "csv" else xlsx_chunks(columns, rows)


def media_type(fmt: str) -> str:
    """The Content-Type of an export."""
    if fmt == "csv":
        return "text/csv; charset=utf-8"
    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
