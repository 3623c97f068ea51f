"""What the home page and the past cycles page show of each process: the phase its workflow
is in (``portal.states``), the phases still to come with their dates, the intake window the
reader can act in now, and, once the WSIS Prize Ceremony has announced them, the winners
and Champions. A process whose workflow has ended goes to the past cycles page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from models.phases import CANCELLED, COMPLETED, OCP_PHASES, PRIZE_PHASES, PhaseDef
from models.plan import CyclePlan, MeetingPlan
from models.wire import ProcessStatus
from portal.states import ProcessStates
from reports.calendar import RECENT, ProcessView, WindowView, intake_calendar
from reports.prizes import Results, results, results_are_public
from reports.votes import category_names

ENDED = (COMPLETED, CANCELLED)


@dataclass
class ProcessCard:
    """One process as a reader sees it."""

    process_id: str
    title: str
    is_contest: bool
    window: WindowView | None  # the window open now, else the next, else the last
    timezone: str
    state: str  # running, not-started, completed, cancelled; unknown: no answer from Temporal
    phase: PhaseDef | None = None
    coming: list[tuple[PhaseDef, datetime]] = field(default_factory=list)
    results: Results | None = None  # after the ceremony: the shortlisted, winners marked
    names: dict[str, str] = field(default_factory=dict)
    starts: datetime | None = None
    meetings: list[tuple[str, MeetingPlan]] = field(default_factory=list)  # (key, meeting)
    titles: dict[str, str] = field(default_factory=dict)  # the title in other languages

    @property
    def ended(self) -> bool:
        """The workflow has ended; or, where Temporal did not answer, every window closed
        and (for a contest) the results are out."""
        if self.state in ENDED:
            return True
        closed = self.window is not None and self.window.state in ("closed", "cancelled")
        return self.state == "unknown" and closed and (not self.is_contest or bool(self.results))


def _by_slug(table: tuple[PhaseDef, ...], slug: str) -> PhaseDef | None:
    return next((p for p in table if p.slug == slug), None)


OCP_SUFFIX = "-ocp"


def _card(
    view: ProcessView, status: ProcessStatus | None, plan: CyclePlan | None, engine: Engine
) -> ProcessCard:
    table = PRIZE_PHASES if view.is_contest else OCP_PHASES
    window = view.current
    card = ProcessCard(
        process_id=view.process_id,
        title=view.title,
        titles=view.titles,
        is_contest=view.is_contest,
        window=window,
        timezone=status.timezone if status else (window.timezone if window else "UTC"),
        state="unknown",
        starts=min((w.opens_at for w in view.windows), default=None),
    )
    if status is not None:
        card.state = status.phase if status.phase in ENDED else "running"
        card.phase = _by_slug(table, status.phase)
        if card.phase is None and status.phase not in ENDED:
            card.state = "not-started"
        codes: dict[str, PhaseDef] = {str(p.code): p for p in table}
        card.coming = [
            (codes[s.phase], s.at) for s in status.upcoming if s.phase and s.phase in codes
        ]
    if plan is not None and not view.is_contest:
        card.meetings = sorted(plan.ocp.meetings.items(), key=lambda km: km[1].starts)
    if view.is_contest and results_are_public(view.process_id, engine):
        card.results = results(view.process_id, engine, only_shortlisted=True)
        card.names = category_names(view.process_id, engine)
    return card


async def process_cards(
    engine: Engine, states: ProcessStates, *, recent: timedelta | None = RECENT
) -> list[ProcessCard]:
    """Every process with its phase, the newest first (by the opening of its first window)."""
    views = await asyncio.to_thread(intake_calendar, engine, recent=recent)
    statuses = await asyncio.gather(*(states.status(v.process_id) for v in views))
    plans = await asyncio.gather(*(ocp_plan(states, v.process_id) for v in views))
    cards = await asyncio.gather(
        *(
            asyncio.to_thread(_card, v, s, p, engine)
            for v, s, p in zip(views, statuses, plans, strict=True)
        )
    )
    return sorted(cards, key=lambda c: c.starts.timestamp() if c.starts else 0.0, reverse=True)


async def ocp_plan(states: ProcessStates, process_id: str) -> CyclePlan | None:
    """The plan of the cycle an OCP belongs to (its workflow id is the cycle's plus -ocp)."""
    if not process_id.endswith(OCP_SUFFIX):
        return None
    return await states.plan(process_id.removesuffix(OCP_SUFFIX))
