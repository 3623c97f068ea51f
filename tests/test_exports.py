"""Exports as people typed the text, formulas neutralised; lists with keyset pagination."""

from __future__ import annotations

import csv
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.tables import Participant
from services.lists import Query, page

ROOT = Path(__file__).resolve().parent.parent
_p = Participant.__table__  # type: ignore[attr-defined]
HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2", "@SUM(A1)", "\tTab", "\rCR"]
XSS = "<img src=x onerror=alert(1)>"


def seed(engine: Engine, count: int = 120) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    names = [*HOSTILE, XSS, *(f"Person {i:03d}" for i in range(count - len(HOSTILE) - 1))]
    with engine.begin() as conn:
        conn.execute(
            _p.insert(),
            [
                {
                    "email": f"p{i}@example.org", "name": name, "organization": "Org",
                    "country": "Kenya" if i % 2 else "Chile", "stakeholder_type": "Academia",
                    "language": "en", "unsubscribed": False, "unsubscribe_legacy": f"t{i}",
                    "created_at": now, "updated_at": now,
                }
                for i, name in enumerate(names)
            ],
        )  # fmt: skip


def starter(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=60,
        env={"WSIS_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def test_csv_and_xlsx_exports_neutralise_formulas(
    tmp_path: Path, db_url: str, engine: Engine
) -> None:
    seed(engine)
    out = tmp_path / "p.csv"
    run = starter("export", "participants", "--format", "csv", "-o", str(out), db_url=db_url)
    assert run.returncode == 0, run.stderr
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 120
    names = {r["name"] for r in rows}
    for text in HOSTILE:
        assert "'" + text in names and text not in names
    assert XSS in names  # text as typed: a CSV is no page
    xlsx = tmp_path / "p.xlsx"
    run = starter("export", "participants", "--format", "xlsx", "-o", str(xlsx), db_url=db_url)
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(xlsx) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        strings = (
            book.read("xl/sharedStrings.xml").decode()
            if "xl/sharedStrings.xml" in (book.namelist())
            else ""
        )
    assert "<f>" not in sheet  # no formula cell, whatever the text
    assert (
        "HYPERLINK" in sheet + strings and "&lt;img src=x onerror=alert(1)&gt;" in sheet + strings
    )
    filtered = tmp_path / "k.csv"
    run = starter(
        "export", "participants", "--country", "Kenya", "-o", str(filtered), db_url=db_url
    )
    assert run.returncode == 0 and filtered.read_text(encoding="utf-8-sig").count("Kenya") == 60
    run = starter("export", "participants", "-o", str(out), db_url=db_url)
    assert run.returncode == 2 and "exists" in run.stderr


def test_keyset_pages_cover_the_list_once(engine: Engine) -> None:
    seed(engine)
    for sort in ("name", "created_at", "country"):  # text, time (all rows alike), ties
        for descending in (True, False):
            seen: list[int] = []
            after = ""
            while True:
                query = Query("participants", sort=sort, descending=descending, after=after)
                rows, after = page(engine, query, limit=25)
                seen += [r["id"] for r in rows]
                if not after:
                    break
            assert len(seen) == len(set(seen)) == 120, (sort, descending)
    for typed in ("WyJ4Il0", "not base64!", "W3siYSI6IDF9LCAxXQ"):  # [x], junk, [{"a": 1}, 1]
        rows, _ = page(engine, Query("participants", after=typed))
        assert len(rows) == 50  # an unknown cursor is the first page, never an error
    found, _ = page(engine, Query("participants", q="person 01"))
    assert {r["name"] for r in found} == {f"Person {i:03d}" for i in range(10, 20)}
    assert page(engine, Query("participants", q="%"))[0] == []  # a wildcard is a character
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(_p)).scalar_one() == 120
