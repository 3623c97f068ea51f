"""Phase IV for an expert: the contests and categories they are assigned, each shortlisted
project's full submission, a score sheet per the contest's rubric (a draft until
submitted), a conflict-of-interest declaration per project, and their own progress.

What an expert may do is decided here, not by the pages: a project outside their
assignments, or one they are recused from, is refused; an expert reads their own sheets
only, never another's, and never a vote count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from models.plan import DEFAULT_RUBRIC, CriterionPlan
from models.tables import ExpertAssignment, Project, ScoreSheet, StaffRole, Window, WindowKind
from models.text import clean_line
from models.window_rules import WindowRules
from services import audit
from services.errors import INVALID, Refused
from services.staff import Staff

_a = ExpertAssignment.__table__  # type: ignore[attr-defined]
_s = ScoreSheet.__table__  # type: ignore[attr-defined]
_j = Project.__table__  # type: ignore[attr-defined]
_w = Window.__table__  # type: ignore[attr-defined]
EXPERTS = (StaffRole.EXPERT.value, StaffRole.EXPERT_LEAD.value)
COMMENT_LIMIT = 4000
ALL = ""  # an assignment to every category of a contest


def rubric(engine: Engine | Connection, process_id: str) -> tuple[CriterionPlan, ...]:
    """The contest's rubric, as its cycle file set it (written with its voting window's
    rules); the default, one criterion "overall" from 1 to 10, for a contest without one."""
    query = sa.select(_w.c.rules_json).where(
        _w.c.process_id == process_id, _w.c.kind == WindowKind.VOTING.value
    )
    if isinstance(engine, Connection):
        text = engine.execute(query).scalar()
    else:
        with engine.connect() as conn:
            text = conn.execute(query).scalar()
    return WindowRules.parse(text).rubric or DEFAULT_RUBRIC


def weighted(scores: dict[str, int], criteria: tuple[CriterionPlan, ...]) -> float:
    """A sheet's score: its criteria's weighted mean."""
    total = sum(c.weight for c in criteria)
    return sum(scores.get(c.code, 0) * c.weight for c in criteria) / total


# -- Assignments (the secretariat) -----------------------------------------------------------


def assign(engine: Engine, expert: Staff, process_id: str, category: str, *, actor: str) -> None:
    """Assign ``expert`` a contest's category (``""``: every category of the contest)."""
    if expert.role not in EXPERTS:
        raise Refused("only an expert or an expert lead can be assigned a category", INVALID)
    category = clean_line(category)[:60]
    with engine.begin() as conn:
        known = conn.execute(
            sa.select(sa.func.count()).where(
                _j.c.process_id == process_id,
                _j.c.shortlisted.is_(sa.true()),
                *([_j.c.category == category] if category else []),
            )
        ).scalar_one()
        if not known:
            raise Refused(f"{process_id} has no shortlist in {category or 'any category'}")
        exists = conn.execute(
            sa.select(_a.c.id).where(
                _a.c.staff_id == expert.id, _a.c.process_id == process_id,
                _a.c.category == category,
            )
        ).first()  # fmt: skip
        if exists is None:
            conn.execute(
                _a.insert().values(
                    staff_id=expert.id, process_id=process_id, category=category,
                    created_at=datetime.now(UTC),
                )
            )  # fmt: skip
        audit.record(
            conn, actor=actor, action="judging.assign", target=expert.actor,
            detail={"contest": process_id, "category": category or "*"},
        )  # fmt: skip


def assignments(engine: Engine | Connection, staff_id: int) -> list[tuple[str, str]]:
    """(contest, category) the expert judges; category ``""`` is every category."""
    query = (
        sa.select(_a.c.process_id, _a.c.category)
        .where(_a.c.staff_id == staff_id)
        .order_by(_a.c.process_id, _a.c.category)
    )
    if isinstance(engine, Connection):
        return [(p, c) for p, c in engine.execute(query)]
    with engine.connect() as conn:
        return [(p, c) for p, c in conn.execute(query)]


def _assigned_clause(conn: Connection, staff_id: int) -> sa.ColumnElement[bool]:
    """Shortlisted projects within the expert's assignments."""
    either = [
        sa.and_(_j.c.process_id == p, *([_j.c.category == c] if c else []))
        for p, c in assignments(conn, staff_id)
    ]
    return sa.and_(_j.c.shortlisted.is_(sa.true()), sa.or_(sa.false(), *either))


# -- The expert's work ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    """One project as its expert sees it: the submission and the expert's own sheet."""

    project_id: int
    process_id: str
    category: str
    title: str
    organization: str
    country: str
    stakeholder_type: str
    description: str
    recused: bool = False
    scores: dict[str, int] = field(default_factory=dict)
    comment: str = ""
    submitted: bool = False


def _sheet(row: Any) -> Sheet:
    return Sheet(
        project_id=row.id, process_id=row.process_id, category=row.category, title=row.title,
        organization=row.organization, country=row.country,
        stakeholder_type=str(row.stakeholder_type), description=row.description,
        recused=bool(row.recused), scores=json.loads(row.scores or "{}"),
        comment=row.comment or "", submitted=row.sheet_submitted is not None,
    )  # fmt: skip


def _projects(conn: Connection, staff: Staff, *where: sa.ColumnElement[bool]) -> list[Sheet]:
    query = (
        sa.select(
            _j, _s.c.recused, _s.c.scores, _s.c.comment, _s.c.submitted_at.label("sheet_submitted")
        )
        .outerjoin(_s, sa.and_(_s.c.project_id == _j.c.id, _s.c.staff_id == staff.id))
        .where(_assigned_clause(conn, staff.id), *where)
        .order_by(_j.c.process_id, _j.c.category, _j.c.id)
    )
    return [_sheet(row) for row in conn.execute(query)]


def work(engine: Engine, staff: Staff) -> list[Sheet]:
    """Every shortlisted project the expert judges, with their own sheet of each."""
    with engine.connect() as conn:
        return _projects(conn, staff)


def project(engine: Engine, staff: Staff, project_id: int) -> Sheet:
    """One project the expert judges, in full, with their sheet; refused outside their
    assignments (the same words as for a project that does not exist)."""
    with engine.connect() as conn:
        found = _projects(conn, staff, _j.c.id == project_id)
    if not found:
        raise Refused(f"project {project_id} is not among the projects you judge")
    return found[0]


def progress(sheets: list[Sheet]) -> tuple[int, int]:
    """(done, to do): a submitted sheet or a recusal is done."""
    return sum(1 for s in sheets if s.submitted or s.recused), len(sheets)


def _write(conn: Connection, staff: Staff, project_id: int, **values: object) -> None:
    now = datetime.now(UTC)
    done = conn.execute(
        _s.update()
        .where(_s.c.staff_id == staff.id, _s.c.project_id == project_id)
        .values(updated_at=now, **values)
    )
    if not done.rowcount:
        conn.execute(
            _s.insert().values(staff_id=staff.id, project_id=project_id, updated_at=now, **values)
        )


def save(
    engine: Engine,
    staff: Staff,
    project_id: int,
    scores: dict[str, str],
    comment: str,
    *,
    submit: bool,
) -> Sheet:
    """Keep the expert's sheet of a project as a draft, or submit it (then it is final).
    Every criterion of the rubric must be scored, within its scale, to submit."""
    sheet = project(engine, staff, project_id)
    if sheet.recused:
        raise Refused("you declared a conflict of interest with this project: no score")
    if sheet.submitted:
        raise Refused("this score sheet is submitted already")
    criteria = rubric(engine, sheet.process_id)
    kept: dict[str, int] = {}
    for c in criteria:
        text = scores.get(c.code, "").strip()
        if not text:
            if submit:
                raise Refused(f"{c.name}: give a score from {c.low} to {c.high}", INVALID)
            continue
        if not text.isdigit() or not c.low <= int(text) <= c.high:
            raise Refused(f"{c.name}: a score from {c.low} to {c.high}", INVALID)
        kept[c.code] = int(text)
    note = comment.strip()[:COMMENT_LIMIT]
    with engine.begin() as conn:
        _write(
            conn, staff, project_id, scores=json.dumps(kept), comment=note, recused=False,
            submitted_at=datetime.now(UTC) if submit else None,
        )  # fmt: skip
        if submit:
            audit.record(
                conn, actor=staff.actor, action="judging.submit", target=f"project:{project_id}"
            )
    return project(engine, staff, project_id)


def recuse(engine: Engine, staff: Staff, project_id: int, reason: str) -> None:
    """Declare a conflict of interest with a project: any draft score is dropped, no score
    is taken from then on, and the declaration is in the audit log (with its reason)."""
    sheet = project(engine, staff, project_id)
    if sheet.submitted:
        raise Refused("this score sheet is submitted already; ask the secretariat")
    with engine.begin() as conn:
        _write(conn, staff, project_id, recused=True, scores="{}", comment="", submitted_at=None)
        audit.record(
            conn, actor=staff.actor, action="judging.recuse", target=f"project:{project_id}",
            reason=clean_line(reason)[:500],
        )  # fmt: skip
