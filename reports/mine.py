"""A participant's own submissions, as their "my submissions" page lists them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.tables import BallotReceipt, OcpSubmission, Project, ProjectStatus, Window, WindowKind

_s = OcpSubmission.__table__  # type: ignore[attr-defined]
_p = Project.__table__  # type: ignore[attr-defined]
_w = Window.__table__  # type: ignore[attr-defined]
_r = BallotReceipt.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class MySubmission:
    id: int
    process_title: str
    submitted_at: datetime
    timezone: str


@dataclass(frozen=True)
class MyProject:
    """A project and where it stands: submitted, eligible, not nominated (and why), nominated."""

    id: int
    process_id: str
    process_title: str
    category: str
    title: str
    submitted_at: datetime
    status: str
    reason: str | None
    timezone: str


@dataclass(frozen=True)
class MyBallot:
    process_id: str
    process_title: str
    code: str
    votes: int
    cast_at: datetime
    timezone: str


@dataclass(frozen=True)
class Mine:
    submissions: list[MySubmission]
    projects: list[MyProject]
    ballots: list[MyBallot]


def _titles(conn: sa.Connection, kind: WindowKind) -> dict[str, tuple[str, str]]:
    rows = conn.execute(
        sa.select(_w.c.process_id, _w.c.title, _w.c.timezone).where(_w.c.kind == kind.value)
    ).all()
    return {pid: (title, zone) for pid, title, zone in rows}


def mine(participant_id: int, engine: Engine) -> Mine:
    """Everything ``participant_id`` sent, newest first."""
    with engine.connect() as conn:
        consultations = _titles(conn, WindowKind.OCP_SUBMISSIONS)
        contests = _titles(conn, WindowKind.PROJECT_SUBMISSIONS)
        submissions = []
        for r in conn.execute(
            sa.select(_s.c.id, _s.c.process_id, _s.c.submitted_at)
            .where(_s.c.participant_id == participant_id)
            .order_by(_s.c.submitted_at.desc())
        ):
            title, zone = consultations.get(r.process_id, (r.process_id, "UTC"))
            submissions.append(MySubmission(r.id, title, r.submitted_at, zone))
        projects = []
        for r in conn.execute(
            sa.select(_p).where(_p.c.owner_id == participant_id).order_by(_p.c.submitted_at.desc())
        ):
            title, zone = contests.get(r.process_id, (r.process_id, "UTC"))
            projects.append(
                MyProject(
                    r.id, r.process_id, title, r.category, r.title, r.submitted_at,
                    ProjectStatus(r.status).value, r.reason, zone,
                )
            )  # fmt: skip
        ballots = []
        for r in conn.execute(
            sa.select(_r).where(_r.c.voter_id == participant_id).order_by(_r.c.cast_at.desc())
        ):
            title, zone = contests.get(r.process_id, (r.process_id, "UTC"))
            ballots.append(MyBallot(r.process_id, title, r.code, r.votes, r.cast_at, zone))
    return Mine(submissions, projects, ballots)
