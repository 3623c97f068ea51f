"""Phase IV's decision (a secretariat member or the Expert Group's lead): per category of a
contest, the experts' aggregated scores (mean, median, number of scores, recusals) beside
the shortlist frozen at the tally (its SHA-256), and the choice of the winner, which is the
contest workflow's ``select_winner`` update (the history records who chose, and when).

Nothing is chosen automatically: a tie at the top of the scores is named, and left to the
person deciding. Vote counts per project are for the secretariat only before the ceremony.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from core.settings import Settings
from models.tables import PrizeTally, Project, ScoreSheet, StaffRole
from models.wire import WinnerSelection
from services import audit
from services.changes import refusal
from services.errors import INVALID, Refused
from services.judging import rubric, weighted
from services.staff import Staff
from services.temporal import connect

_j = Project.__table__  # type: ignore[attr-defined]
_s = ScoreSheet.__table__  # type: ignore[attr-defined]
_t = PrizeTally.__table__  # type: ignore[attr-defined]
DECIDERS = (StaffRole.SECRETARIAT.value, StaffRole.EXPERT_LEAD.value)


def _decider(staff: Staff) -> None:
    if staff.role not in DECIDERS:
        raise Refused("the decision is the secretariat's or the Expert Group lead's")


@dataclass(frozen=True)
class Standing:
    """One shortlisted project in its category: the experts' scores and (for the
    secretariat) its valid votes."""

    project_id: int
    title: str
    organization: str
    mean: float | None
    median: float | None
    scored: int
    recusals: int
    drafts: int
    votes: int | None
    winner: bool


@dataclass(frozen=True)
class Category:
    """A category's shortlist by the experts' mean score, and whether its top is tied."""

    code: str
    standings: list[Standing]
    tied: list[int]  # project ids sharing the best mean (empty: no tie)
    has_winner: bool


@dataclass(frozen=True)
class Board:
    """The decision page of one contest."""

    process_id: str
    sha256: str | None
    ballots_counted: int | None
    categories: list[Category]


def contests(engine: Engine) -> list[str]:
    """The contests whose voting has been tallied (newest first)."""
    with engine.connect() as conn:
        return list(
            conn.execute(sa.select(_t.c.process_id).order_by(_t.c.tallied_at.desc())).scalars()
        )


def board(engine: Engine, staff: Staff, process_id: str) -> Board:
    """The aggregated scores of every category of the contest, beside its frozen shortlist."""
    _decider(staff)
    criteria = rubric(engine, process_id)
    with engine.connect() as conn:
        tally = conn.execute(sa.select(_t).where(_t.c.process_id == process_id)).first()
        projects = conn.execute(
            sa.select(_j)
            .where(_j.c.process_id == process_id, _j.c.shortlisted.is_(sa.true()))
            .order_by(_j.c.category, _j.c.id)
        ).all()
        sheets = conn.execute(
            sa.select(_s.c.project_id, _s.c.recused, _s.c.scores, _s.c.submitted_at).where(
                _s.c.project_id.in_([p.id for p in projects])
            )
        ).all()
    scores: dict[int, list[float]] = defaultdict(list)
    recused: dict[int, int] = defaultdict(int)
    drafts: dict[int, int] = defaultdict(int)
    for sheet in sheets:
        if sheet.recused:
            recused[sheet.project_id] += 1
        elif sheet.submitted_at is not None:
            scores[sheet.project_id].append(weighted(json.loads(sheet.scores), criteria))
        else:
            drafts[sheet.project_id] += 1
    by_category: dict[str, list[Standing]] = defaultdict(list)
    for p in projects:
        got = scores[p.id]
        by_category[p.category].append(
            Standing(
                project_id=p.id, title=p.title, organization=p.organization,
                mean=round(statistics.fmean(got), 2) if got else None,
                median=round(statistics.median(got), 2) if got else None,
                scored=len(got), recusals=recused[p.id], drafts=drafts[p.id],
                votes=p.votes if staff.role == StaffRole.SECRETARIAT.value else None,
                winner=bool(p.winner),
            )
        )  # fmt: skip
    categories = []
    for code, standings in by_category.items():
        standings.sort(key=lambda s: (s.mean is None, -(s.mean or 0), s.project_id))
        best = standings[0].mean
        top = [s.project_id for s in standings if best is not None and s.mean == best]
        categories.append(
            Category(code, standings, top if len(top) > 1 else [], any(s.winner for s in standings))
        )
    return Board(
        process_id=process_id,
        sha256=tally.sha256 if tally else None,
        ballots_counted=tally.ballots_counted if tally else None,
        categories=categories,
    )


async def choose(
    engine: Engine,
    staff: Staff,
    process_id: str,
    category: str,
    project_ids: list[int],
    settings: Settings | None = None,
    client: Client | None = None,
) -> list[int]:
    """A secretariat member's or the Expert Group lead's choice: ``record_winner``."""
    _decider(staff)
    selection = WinnerSelection(
        category=category, project_ids=project_ids, requested_by=staff.actor
    )
    return await record_winner(engine, process_id, selection, settings, client)


async def record_winner(
    engine: Engine,
    process_id: str,
    selection: WinnerSelection,
    settings: Settings | None = None,
    client: Client | None = None,
) -> list[int]:
    """Record the winner(s) of a category (the console's choice, ``starter.py
    select-winner``): the workflow's ``select_winner`` update, whose validator refuses a
    project off the shortlist or a contest not in phase IV; in the audit log as who it
    names. ``Refused`` with the validator's words."""
    if problems := selection.problems():
        raise Refused("; ".join(problems), INVALID)
    from workflows.prizes import PrizeContestWorkflow

    try:
        handle = (client or await connect(settings)).get_workflow_handle(process_id)
        chosen = await handle.execute_update(PrizeContestWorkflow.select_winner, selection)
    except WorkflowUpdateFailedError as exc:
        raise Refused(f"refused: {refusal(exc)}") from None
    except RPCError as exc:
        raise Refused(f"{process_id}: {exc.message}") from None
    audit.record(
        engine, actor=selection.requested_by, action="judging.winner", target=process_id,
        detail={"category": selection.category, "projects": chosen},
    )  # fmt: skip
    return list(chosen)
