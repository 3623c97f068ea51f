"""The one CSV reader (intake/csvfile.py): every good row kept, every bad line named, a file
refused whole only when it cannot be a table, and never an exception for any bytes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.files import FileRefused
from intake.csvfile import Columns, CsvProblem, CsvRow, read_csv

COLUMNS = Columns(required=("name", "email"), optional=("note",), multiline=("note",))
HEADER = b"name,email,note\n"


def read(tmp_path: Path, data: bytes, columns: Columns = COLUMNS) -> list[CsvRow | CsvProblem]:
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    return list(read_csv(path, columns, field_limit=1000))


def rows(items: list[CsvRow | CsvProblem]) -> dict[int, dict[str, str]]:
    return {i.line: i.fields for i in items if isinstance(i, CsvRow)}


def problems(items: list[CsvRow | CsvProblem]) -> dict[int, str]:
    return {i.line: i.reason for i in items if isinstance(i, CsvProblem)}


def test_a_bad_byte_anywhere_fails_its_line_alone(tmp_path: Path) -> None:
    lines = [f"P{i},p{i}@example.org,ok\n".encode() for i in range(2000)]
    lines[1500] = b"Caf\xe9,cafe@example.org,latin-1\n"  # line 1502 of the file
    found = read(tmp_path, HEADER + b"".join(lines))
    assert len(rows(found)) == 1999
    assert problems(found) == {1502: "name: not UTF-8 (byte 0xe9); save the file as UTF-8"}
    assert rows(found)[2001] == {"name": "P1999", "email": "p1999@example.org", "note": "ok"}


def test_each_kind_of_bad_line_is_named(tmp_path: Path) -> None:
    data = (
        HEADER
        + (
            b"A,a@example.org,fine\n"  # 2
            b"B,b@example.org\n"  # 3: a field short
            b"C,c@example.org,x,y\n"  # 4: one too many
            b"D,d@example.org," + b"x" * 1001 + b"\n"  # 5: too long
            b'E,e@example.org,"multi\nline note"\n'  # 6-7: a quoted line break is fine
            b'F,f@example.org,"x"y\n'  # 8: text after a closing quote
            b"\n,,\n"  # 9, 10: blank lines are skipped
            b"G,g@example.org,last\n"  # 11
        )
    )
    found = read(tmp_path, data)
    assert sorted(rows(found)) == [2, 6, 11]
    assert rows(found)[6]["note"] == "multi\nline note"
    why = problems(found)
    assert sorted(why) == [3, 4, 5, 8]
    assert "2 fields where the header has 3" in why[3]
    assert "4 fields where the header has 3" in why[4]
    assert "note: 1,001 characters, more than the 1,000" in why[5]
    assert "text follows a closing quote" in why[8]


def test_a_stray_quote_does_not_swallow_the_lines_after_it(tmp_path: Path) -> None:
    data = (
        HEADER
        + b'A,"a@example.org,oops\n'
        + b"".join(f"P{i},p{i}@example.org,ok\n".encode() for i in range(50))
    )
    found = read(tmp_path, data)
    assert list(problems(found)) == [2] and "quote" in problems(found)[2]
    assert len(rows(found)) == 50


def test_a_stray_quote_closed_by_another_is_found(tmp_path: Path) -> None:
    data = HEADER + b'A,"a@example.org,x\nB,b@example.org,y\nC,c@example.org",z\n'
    found = read(tmp_path, data)
    assert list(problems(found)) == [2] and sorted(rows(found)) == [3, 4]
    # A line break quoted in a one-line column, with nothing swallowed, stays one row.
    found = read(tmp_path, HEADER + b'"Amina\nDiallo",a@example.org,x\nB,b@example.org,y\n')
    assert sorted(rows(found)) == [2, 4] and rows(found)[2]["name"] == "Amina\nDiallo"


def test_a_quote_never_closed_is_one_bad_line(tmp_path: Path) -> None:
    found = read(
        tmp_path, HEADER + b'A,a@example.org,ok\nB,b@example.org,"never closed\nC,c@x.org,ok\n'
    )
    assert sorted(rows(found)) == [2, 4] and list(problems(found)) == [3]


def test_nul_and_crlf_and_bom(tmp_path: Path) -> None:
    found = read(tmp_path, b"\xef\xbb\xbfName,EMAIL,note\r\nA\x00,a@example.org,x\r\n")
    assert rows(found) == {2: {"name": "A\x00", "email": "a@example.org", "note": "x"}}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", r"is empty; its first line must name the columns: name, email \(required\)"),
        (b"\n\n", r"is empty"),
        (b"name,note\nA,x\n", r"the header has no column email; the columns are: name, email"),
        (b"name,email,emial\n", r"unknown column 'emial' in the header; the columns are"),
        (b"name,email,name\n", r"the column 'name' appears twice"),
        (b"name,email,\n", r"the header has a column without a name"),
        (b"n\xe4me,email\n", r"the header, is not UTF-8"),
    ],
)
def test_a_file_that_cannot_be_a_table_is_refused_whole(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    with pytest.raises(FileRefused, match=reason):
        read(tmp_path, data)


def test_paths_that_are_not_files_are_refused_before_reading(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    for path, reason in [
        (tmp_path / "missing.csv", "file not found"),
        (tmp_path, "is a directory, not a CSV file"),
        (tmp_path / "fifo", r"is a pipe \(FIFO\)"),
        (Path("/dev/zero"), "is a device"),
    ]:
        with pytest.raises(FileRefused, match=reason):
            read_csv(path, COLUMNS)
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.truncate(3000)
    with pytest.raises(FileRefused, match="may be at most 2,000 bytes"):
        read_csv(big, COLUMNS, limit=2000)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000) | st.text(alphabet=',"\n\r ab\x00\xe9\u2028', max_size=300).map(
    lambda t: t.encode("utf-8")
))  # fmt: skip
def test_any_bytes_give_rows_or_per_line_refusals(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any.csv"
        path.write_bytes(HEADER + data)
        lines = (HEADER + data).count(b"\n") + (HEADER + data).count(b"\r") + 1
        for item in read_csv(path, COLUMNS):
            assert 2 <= item.line <= lines
            if isinstance(item, CsvRow):
                assert set(item.fields) == {"name", "email", "note"}
                assert all(isinstance(v, str) for v in item.fields.values())
                "".join(item.fields.values()).encode("utf-8")  # no undecodable byte in a row
            else:
                assert item.reason and "\n" not in item.reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_header_gives_a_table_or_one_line_refusal(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any.csv"
        path.write_bytes(data)
        try:
            list(read_csv(path, COLUMNS))
        except FileRefused as exc:
            assert "\n" not in str(exc) and "\r" not in str(exc)
