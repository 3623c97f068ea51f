"""A contest in phase IV written straight to the database, for the judging tests: two
categories' shortlists frozen at a tally, a voting window carrying a two-criterion rubric,
three experts and a lead."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from models.tables import PrizeTally, Project, Window
from services import staff
from services.staff import Staff

PID = "wsis-2030-prizes"
RUBRIC = [
    {"code": "impact", "name": "Impact", "weight": 2.0, "low": 1, "high": 10},
    {"code": "reach", "name": "Reach", "weight": 1.0, "low": 1, "high": 5},
]
_j = Project.__table__  # type: ignore[attr-defined]
_w = Window.__table__  # type: ignore[attr-defined]
_t = PrizeTally.__table__  # type: ignore[attr-defined]


@dataclass
class Contest:
    """The ids a test needs: projects per category, and the staff."""

    projects: dict[str, list[int]]
    experts: list[Staff]
    lead: Staff
    secretariat: Staff


def phase_four(engine: Engine, owner_id: int = 1) -> Contest:
    """Three shortlisted projects in C1 (votes 30, 20, 20), two in C2, one not shortlisted."""
    now = datetime.now(UTC)
    projects: dict[str, list[int]] = {"C1": [], "C2": []}
    with engine.begin() as conn:
        conn.execute(
            _w.insert().values(
                process_id=PID, title="WSIS Prizes 2030", kind="voting", opens_at=now - timedelta(
                    days=20), closes_at=now - timedelta(days=1), state="closed",
                rules_json=json.dumps({"categories": ["C1", "C2"], "rubric": RUBRIC}),
            )
        )  # fmt: skip
        for category, votes in (("C1", (30, 20, 20, 3)), ("C2", (9, 8))):
            for i, n in enumerate(votes):
                row = conn.execute(
                    _j.insert().values(
                        process_id=PID, category=category, title=f"Project {category}-{i}",
                        title_key=f"project {category}-{i}", description=f"What {i} does",
                        owner_id=owner_id, organization="Org", stakeholder_type="Academia",
                        country="Chile", submitted_at=now, status="nominated", votes=n,
                        shortlisted=n > 5, winner=False,
                    )
                )  # fmt: skip
                projects[category].append(int(row.inserted_primary_key[0]))  # type: ignore[index]
        conn.execute(
            _t.insert().values(
                process_id=PID, ballots_cast=92, ballots_counted=90, sha256="ab" * 32,
                ballot_rule="any", tallied_at=now,
            )
        )  # fmt: skip
    experts = [
        staff.add(engine, f"expert{i}@itu.int", "expert", actor="cli:test") for i in range(3)
    ]
    lead = staff.add(engine, "lead@itu.int", "expert-lead", actor="cli:test")
    sec = staff.add(engine, "sec@itu.int", "secretariat", actor="cli:test")
    return Contest(projects, experts, lead, sec)
