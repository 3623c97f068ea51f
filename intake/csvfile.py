"""Reading a CSV file a person made: every good row kept, every bad line named with its reason.

One reader for every CSV the engine takes (the registry, OCP submissions, projects,
nomination marks, ballots), with the same guarantees:

- the file is refused as a whole, before anything is written, only when it cannot be a table
  of rows at all: not a regular file, over the size limit, empty, or a header that does not
  name the expected columns (the message names them);
- otherwise each record is a row or a problem with its line number and reason: bytes that
  are not UTF-8, a wrong number of fields, a field over the length limit, a quote never
  closed. A bad line never takes the lines after it down with it: a record that a stray
  quote ran over several lines (it does not fit the header, and the lines it swallowed
  read as rows) is reported on its first line and the lines after it are read again on
  their own.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.files import FileRefused, MiB, read_bounded
from models.text import printable

CSV_LIMIT = 128 * MiB  # a 300,000-row registry is about 60 MB
FIELD_LIMIT = 100_000  # characters in one field; the forms set tighter limits per field

_LINES = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")  # split after LF, CRLF or a lone CR
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)


@dataclass(frozen=True)
class Columns:
    """The columns a CSV may have: ``required`` ones, ``optional`` ones, the ones whose
    values may span lines (``multiline``), and other header names accepted for a column."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    multiline: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """``name, email (required); organization, country (optional)``."""
        text = f"{', '.join(self.required)} (required)"
        return f"{text}; {', '.join(self.optional)} (optional)" if self.optional else text


@dataclass(frozen=True)
class CsvRow:
    """A data line: its line number and its fields by column name (only the file's
    columns; values as written, unstripped)."""

    line: int
    fields: dict[str, str]


@dataclass(frozen=True)
class CsvProblem:
    """A line that is not a row, with the reason."""

    line: int
    reason: str


_CSV_MESSAGES = {
    "unexpected end of data": 'a quoted field is never closed (its closing " is missing)',
    "',' expected after '\"'": 'text follows a closing quote (a " inside a quoted field '
    'is written twice: "")',
}


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    return _CSV_MESSAGES.get(text, f"not valid CSV: {text}")


class _Feed:
    """The physical lines from ``pos`` on, for ``csv.reader``; ``pos`` tells how far it read."""

    def __init__(self, lines: list[str], pos: int) -> None:
        self.lines = lines
        self.pos = pos

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1]


def _records(lines: list[str]) -> Generator[tuple[int, int, list[str] | str], bool | None]:
    """(first line index, index after its last line, fields or the reason it is not CSV).

    ``send(True)`` after a record rejects it as a stray quote's work: reading resumes on the
    line after its first line instead of after its last.
    """
    start = 0
    while start < len(lines):
        feed = _Feed(lines, start)
        reader = csv.reader(feed, strict=True)
        while True:
            first = feed.pos
            try:
                fields: list[str] | str = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                fields = _csv_reason(exc)
            span_rejected = yield first, feed.pos, fields
            if isinstance(fields, str) or span_rejected:
                # A fresh reader: after an error the csv module's state is not to be trusted.
                start = first + 1 if span_rejected or feed.pos - first > 1 else feed.pos
                break


class CsvTable:
    """A CSV file whose header has been checked; iterate for its rows and problems."""

    def __init__(self, path: str | Path, columns: Columns, *, limit: int, field_limit: int) -> None:
        self.path = str(path)
        self.columns = columns
        self.field_limit = field_limit
        data = read_bounded(path, limit=limit, what="CSV file")
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape")
        self._clean = _UNDECODABLE.search(text) is None
        self._lines = _LINES.split(text)
        if self._lines and self._lines[-1] == "":
            self._lines.pop()
        # The length limit is ours to enforce, with a reason per line; the csv module's
        # own (131,072 characters) would end the file at the first long field.
        csv.field_size_limit(max(csv.field_size_limit(), limit))
        self._records = _records(self._lines)
        self.header = self._read_header()

    def _refuse(self, reason: str) -> FileRefused:
        return FileRefused(self.path, printable(reason))

    def _read_header(self) -> list[str]:
        expected = f"the columns are: {self.columns.describe()}"
        for first, _, fields in self._records:
            if isinstance(fields, str):
                raise self._refuse(f"line {first + 1}, the header: {fields}")
            if not any(f.strip() for f in fields):
                continue
            if not self._clean and any(_UNDECODABLE.search(f) for f in fields):
                raise self._refuse(f"line {first + 1}, the header, is not UTF-8; {expected}")
            known = {*self.columns.required, *self.columns.optional}
            names = []
            for raw in fields:
                name = raw.strip().lower()
                name = self.columns.aliases.get(name, name)
                if not name:
                    raise self._refuse(f"the header has a column without a name; {expected}")
                if name not in known:
                    raise self._refuse(f"unknown column {raw.strip()!r} in the header; {expected}")
                if name in names:
                    raise self._refuse(f"the column {name!r} appears twice in the header")
                names.append(name)
            if missing := [c for c in self.columns.required if c not in names]:
                raise self._refuse(f"the header has no column {', '.join(missing)}; {expected}")
            return names
        raise self._refuse(
            f"is empty; its first line must name the columns: {self.columns.describe()}"
        )

    def __iter__(self) -> Iterator[CsvRow | CsvProblem]:
        records = self._records
        sent: bool | None = None
        while True:
            try:
                first, end, fields = records.send(sent) if sent is not None else next(records)
            except StopIteration:
                return
            sent = None
            line = first + 1
            if isinstance(fields, str):
                yield CsvProblem(line, fields)
                continue
            if not any(f.strip() for f in fields):
                continue  # a blank line, or one of empty fields only
            if end - first > 1 and self._stray_quote(first, end, fields):
                sent = True
                yield CsvProblem(
                    line,
                    'a quote opened on this line is not closed where the line ends (a " '
                    'inside a field is written twice: "")',
                )
                continue
            yield self._row(line, fields)

    def _stray_quote(self, first: int, end: int, fields: list[str]) -> bool:
        """Whether a record read over lines ``first`` to ``end`` is a stray quote's work:
        it does not fit the header (a wrong width, a line break in a column that is one
        line) and a line it swallowed whole (not its first, nor its last where the quote
        closes) reads as a row of its own."""
        width = len(self.header)
        misfit = len(fields) != width or any(
            "\n" in v or "\r" in v
            for name, v in zip(self.header, fields, strict=False)
            if name not in self.columns.multiline
        )
        if not misfit:
            return False
        for text in self._lines[first + 1 : min(end - 1, first + 51)]:
            try:
                if len(next(csv.reader([text]), [])) == width:
                    return True
            except csv.Error:
                continue
        return False

    def _row(self, line: int, fields: list[str]) -> CsvRow | CsvProblem:
        if len(fields) != len(self.header):
            return CsvProblem(
                line,
                f"{len(fields)} fields where the header has {len(self.header)} "
                f"({', '.join(self.header)}); a field that contains a comma must be quoted",
            )
        for name, value in zip(self.header, fields, strict=True):
            if not self._clean and (bad := _UNDECODABLE.search(value)):
                byte = ord(bad.group()) - 0xDC00
                return CsvProblem(
                    line, f"{name}: not UTF-8 (byte 0x{byte:02x}); save the file as UTF-8"
                )
            if len(value) > self.field_limit:
                return CsvProblem(
                    line,
                    f"{name}: {len(value):,} characters, more than the {self.field_limit:,} "
                    f"a field may have",
                )
        return CsvRow(line, dict(zip(self.header, fields, strict=True)))


def read_csv(
    path: str | Path,
    columns: Columns,
    *,
    limit: int = CSV_LIMIT,
    field_limit: int = FIELD_LIMIT,
) -> CsvTable:
    """Open the CSV at ``path`` and check its header; iterate the result for its rows.

    ``FileRefused`` (one line) when the file cannot be read as a table of ``columns``;
    nothing has been read past the header then, so a caller that writes rows as they come
    writes nothing for a refused file.
    """
    return CsvTable(path, columns, limit=limit, field_limit=field_limit)
