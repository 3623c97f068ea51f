"""Importing the stakeholder registry: bad rows named by line, good rows kept, no duplicates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intake.participants import import_participants
from models.tables import Participant

ROOT = Path(__file__).resolve().parent.parent

CSV = """name,email,organization,country,stakeholder_type,language
Amina Diallo,amina@example.org,Ministry of ICT,Senegal,Government,fr
,nobody@example.org,Org,Chile,Academia,es
Bad Mail,not-an-address,Org,Chile,Academia,es
Chen Wei,chen@example.org,Tsinghua,China,Astronauts,zh
Dana Ivanova,dana@example.org,Open Net,Bulgaria,civil society,ru
Elif Kaya,elif@example.org,TelcoCorp,Türkiye,business,tlh
"""


def _people(engine: Engine) -> dict[str, Participant]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Participant.__table__)).all()  # type: ignore[attr-defined]
    return {r.email: r for r in rows}  # type: ignore[misc]


def test_import_reports_bad_rows_and_keeps_good_ones(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    report = import_participants(path, engine)
    assert (report.created, report.updated) == (2, 0)
    reasons = dict(report.errors)
    assert set(reasons) == {3, 4, 5, 7}
    assert "name" in reasons[3] and "empty" in reasons[3]
    assert "invalid e-mail address 'not-an-address'" in reasons[4]
    assert "unknown stakeholder type 'Astronauts'" in reasons[5]
    assert "unknown language 'tlh'" in reasons[7]
    people = _people(engine)
    assert set(people) == {"amina@example.org", "dana@example.org"}
    assert people["dana@example.org"].stakeholder_type == "Civil Society"

    # Re-importing updates in place: same rows, new values, no duplicates.
    path.write_text(CSV.replace("Open Net", "Open Net Foundation"), encoding="utf-8")
    again = import_participants(path, engine)
    assert (again.created, again.updated) == (0, 2)
    people = _people(engine)
    assert len(people) == 2 and people["dana@example.org"].organization == "Open Net Foundation"


def test_cli_import_lists_refused_lines(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "starter.py", "participants", "import", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"WSIS_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 2, run.stderr  # invalid lines: exit status 2, good lines kept
    assert "2 created, 0 updated, 4 refused" in run.stdout
    assert "line 4: email: invalid e-mail address 'not-an-address'" in run.stderr
