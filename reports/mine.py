"""A participant's own submissions, as their "my submissions" page lists them: each in full,
where it stands as codes the page renders in the reader's language (never an English reason
or an internal id), and Winner or Champion once the WSIS Prize Ceremony has announced them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.reasons import INELIGIBLE_REASONS
from models.tables import BallotReceipt, OcpSubmission, Project, ProjectStatus, Window, WindowKind
from models.window_rules import WindowRules
from reports.calendar import state_now
from reports.prizes import results_are_public

_s = OcpSubmission.__table__  # type: ignore[attr-defined]
_p = Project.__table__  # type: ignore[attr-defined]
_w = Window.__table__  # type: ignore[attr-defined]
_r = BallotReceipt.__table__  # type: ignore[attr-defined]


# The automatic eligibility checks write these reasons (activities/prizes.py); the
# secretariat's marks write one of the listed reasons' English words (models.reasons).
_EARLIER_WINNER = re.compile(r"^won in an earlier cycle\b")
_DUPLICATE = re.compile(r"^duplicate of project\b")


_LISTED = {words: code for code, words in INELIGIBLE_REASONS.items()}


def reason_code(reason: str | None) -> str | None:
    """Why a project was not nominated, as a code: earlier-winner, duplicate, a listed
    reason's code (models.reasons), or secretariat (an older free-text reason)."""
    if not reason:
        return None
    if reason in _LISTED:
        return _LISTED[reason]
    if _EARLIER_WINNER.match(reason):
        return "earlier-winner"
    if _DUPLICATE.match(reason):
        return "duplicate"
    return "secretariat"


@dataclass(frozen=True)
class MySubmission:
    id: int
    process_title: str
    submitted_at: datetime
    timezone: str
    full_name: str = ""
    organization: str = ""
    country: str = ""
    stakeholder_type: str = ""
    proposal: str = ""
    withdrawn: bool = False
    changeable: bool = False  # its form is still open: it may be edited or withdrawn
    process_titles: dict[str, str] = field(default_factory=dict)  # in other languages


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
    description: str = ""
    organization: str = ""
    country: str = ""
    stakeholder_type: str = ""
    honour: str | None = None  # winner or champion, once the ceremony has announced them
    changeable: bool = False  # submitted, its window still open: it may be edited or withdrawn
    process_titles: dict[str, str] = field(default_factory=dict)  # in other languages

    @property
    def reason_code(self) -> str | None:
        return reason_code(self.reason)


@dataclass(frozen=True)
class MyBallot:
    process_id: str
    process_title: str
    code: str
    votes: int
    cast_at: datetime
    timezone: str
    process_titles: dict[str, str] = field(default_factory=dict)  # in other languages


@dataclass(frozen=True)
class Mine:
    submissions: list[MySubmission]
    projects: list[MyProject]
    ballots: list[MyBallot]


_NO_TITLE: tuple[str, str, dict[str, str]] = ("", "UTC", {})


def _titles(conn: sa.Connection, kind: WindowKind) -> dict[str, tuple[str, str, dict[str, str]]]:
    """Process id -> its title, its time zone and its title in other languages."""
    rows = conn.execute(
        sa.select(_w.c.process_id, _w.c.title, _w.c.timezone, _w.c.rules_json).where(
            _w.c.kind == kind.value
        )
    ).all()
    return {r[0]: (r[1], r[2], WindowRules.parse(r[3]).titles) for r in rows}


def _open(conn: sa.Connection, kind: WindowKind) -> set[str]:
    """The processes whose ``kind`` window is open now: their items may still change."""
    now = datetime.now(UTC)
    rows = conn.execute(
        sa.select(_w.c.process_id, _w.c.state, _w.c.opens_at, _w.c.closes_at).where(
            _w.c.kind == kind.value
        )
    ).all()
    return {
        r.process_id for r in rows if state_now(r.state, r.opens_at, r.closes_at, now) == "open"
    }


def mine(participant_id: int, engine: Engine) -> Mine:
    """Everything ``participant_id`` sent, newest first."""
    with engine.connect() as conn:
        consultations = _titles(conn, WindowKind.OCP_SUBMISSIONS)
        contests = _titles(conn, WindowKind.PROJECT_SUBMISSIONS)
        ocp_open = _open(conn, WindowKind.OCP_SUBMISSIONS)
        contests_open = _open(conn, WindowKind.PROJECT_SUBMISSIONS)
        submissions = []
        for r in conn.execute(
            sa.select(_s)
            .where(_s.c.participant_id == participant_id)
            .order_by(_s.c.submitted_at.desc())
        ):
            title, zone, titles = consultations.get(r.process_id, _NO_TITLE)
            submissions.append(
                MySubmission(
                    r.id, title, r.submitted_at, zone, r.full_name, r.organization, r.country,
                    r.stakeholder_type, r.proposal, r.withdrawn_at is not None,
                    r.withdrawn_at is None and r.process_id in ocp_open, titles,
                )
            )  # fmt: skip
        projects = []
        rows = conn.execute(
            sa.select(_p).where(_p.c.owner_id == participant_id).order_by(_p.c.submitted_at.desc())
        ).all()
    announced = {pid: results_are_public(pid, engine) for pid in {r.process_id for r in rows}}
    for r in rows:
        title, zone, titles = contests.get(r.process_id, _NO_TITLE)
        honour = None
        if announced[r.process_id] and r.shortlisted:
            honour = "winner" if r.winner else "champion"
        projects.append(
            MyProject(
                r.id, r.process_id, title, r.category, r.title, r.submitted_at,
                ProjectStatus(r.status).value, r.reason, zone, r.description, r.organization,
                r.country, r.stakeholder_type, honour,
                r.status == ProjectStatus.SUBMITTED.value and r.process_id in contests_open,
                titles,
            )
        )  # fmt: skip
    with engine.connect() as conn:
        ballots = []
        for r in conn.execute(
            sa.select(_r).where(_r.c.voter_id == participant_id).order_by(_r.c.cast_at.desc())
        ):
            title, zone, titles = contests.get(r.process_id, _NO_TITLE)
            ballots.append(MyBallot(r.process_id, title, r.code, r.votes, r.cast_at, zone, titles))
    return Mine(submissions, projects, ballots)
