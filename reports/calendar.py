"""What the portal's home page shows: each process's intake windows, read from the same
rows intake checks, so the page and the deadline rule can never disagree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.phases import PRIZE_PHASES, PhaseDef, phase
from models.tables import Window, WindowKind
from models.window_rules import WindowRules, window_status

_w = Window.__table__  # type: ignore[attr-defined]
RECENT = timedelta(days=200)  # processes whose windows all closed longer ago are not shown


@dataclass(frozen=True)
class WindowView:
    kind: str
    state: str  # scheduled, open, closed, cancelled: as intake would judge it now
    opens_at: datetime
    closes_at: datetime
    timezone: str
    title: str = ""
    titles: dict[str, str] = field(default_factory=dict)  # the title in other languages


@dataclass
class ProcessView:
    process_id: str
    title: str
    windows: list[WindowView] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)  # the title in other languages

    @property
    def is_contest(self) -> bool:
        return any(w.kind != WindowKind.OCP_SUBMISSIONS.value for w in self.windows)

    @property
    def phase(self) -> PhaseDef | None:
        """The contest's phase by its windows (None for the OCP: its phases are meetings)."""
        window = self.current
        if window is None or not self.is_contest:
            return None
        if window.kind == WindowKind.VOTING.value and window.state in ("closed", "cancelled"):
            return phase(PRIZE_PHASES, "IV")
        code = {"project-submissions": "I", "nomination": "II", "voting": "III"}[window.kind]
        return phase(PRIZE_PHASES, code)

    @property
    def current(self) -> WindowView | None:
        """The open window, else the next one to open, else the last one."""
        for state in ("open", "scheduled"):
            found = [w for w in self.windows if w.state == state]
            if found:
                return min(found, key=lambda w: w.opens_at)
        return self.windows[-1] if self.windows else None


def state_now(state: str, opens_at: datetime, closes_at: datetime, now: datetime) -> str:
    """The window's state as ``intake.windows.check_window`` judges it at ``now``."""
    return window_status(state, opens_at, closes_at, now).value


def window_of(
    process_id: str, kind: WindowKind, engine: Engine, *, now: datetime | None = None
) -> WindowView | None:
    """One window of a process, as intake judges it now (None if it has none)."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        r = conn.execute(
            sa.select(_w).where(_w.c.process_id == process_id, _w.c.kind == kind.value)
        ).first()
    if r is None:
        return None
    state = state_now(r.state, r.opens_at, r.closes_at, now)
    titles = WindowRules.parse(r.rules_json).titles
    return WindowView(r.kind, state, r.opens_at, r.closes_at, r.timezone, r.title, titles)


def rules_of(process_id: str, kind: WindowKind, engine: Engine) -> WindowRules:
    """The intake rules a window carries (categories and their names, word limits...)."""
    with engine.connect() as conn:
        rules = conn.execute(
            sa.select(_w.c.rules_json).where(_w.c.process_id == process_id, _w.c.kind == kind.value)
        ).scalar()
    return WindowRules.parse(rules)


def intake_calendar(
    engine: Engine, *, now: datetime | None = None, recent: timedelta | None = RECENT
) -> list[ProcessView]:
    """Every process with its windows in the order they open: only those with a window that
    closed within ``recent`` (all of them with None)."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_w).order_by(_w.c.process_id, _w.c.opens_at)).all()
    processes: dict[str, ProcessView] = {}
    for r in rows:
        titles = WindowRules.parse(r.rules_json).titles
        view = processes.setdefault(r.process_id, ProcessView(r.process_id, r.title))
        view.titles = view.titles or titles
        view.windows.append(
            WindowView(
                r.kind, state_now(r.state, r.opens_at, r.closes_at, now), r.opens_at,
                r.closes_at, r.timezone,
            )
        )  # fmt: skip
    if recent is None:
        return list(processes.values())
    return [p for p in processes.values() if max(w.closes_at for w in p.windows) > now - recent]
