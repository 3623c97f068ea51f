"""What a process's timed machine is at, and how the operator sees it.

The state a plan is run against (the phase, the steps started, done and skipped, when each
phase began, what a step waits for) and the plan's steps still to come; and the operator's
view of it, kept current: the ``WsisPhase`` and ``WsisNextDeadline`` search attributes and
the workflow's current details, in plain words. The run itself (sleeping to each step, the
lock, the long work) is ``PhaseMachine`` in workflows/machine.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.phases import (
        CANCELLED,
        COMPLETED,
        NOT_STARTED,
        PhaseCode,
        PhaseDef,
        ProcessState,
    )
    from models.wire import StepView
    from workflows.search_attributes import (
        WSIS_NEXT_DEADLINE,
        WSIS_PHASE,
        WSIS_PROCESS,
        WSIS_YEAR,
    )


@dataclass(frozen=True)
class Step:
    """One dated action of a process. ``key`` is stable across re-plans."""

    key: str
    at: datetime
    summary: str
    action: Callable[[], Awaitable[None]]
    phase: PhaseCode | None = None  # the phase this step enters, if any
    expires_at: datetime | None = None  # a reminder past its deadline is skipped, not sent


def duration_label(span: timedelta) -> str:
    """``7d``, ``36h``, ``90m``: the stable part of a reminder's step key."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def utc_text(when: datetime) -> str:
    """``2017-02-20 22:59 UTC``: workflow code shows dates in UTC (no zoneinfo in the sandbox)."""
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


class PhaseView:
    """A machine's state and the operator's view of it; see the module docstring."""

    def __init__(
        self,
        *,
        process_id: str,
        process: str,
        title: str,
        table: tuple[PhaseDef, ...],
    ) -> None:
        self.process_id = process_id
        self.process = process
        self.title = title
        self.table = table
        self.phase: PhaseCode | ProcessState = NOT_STARTED
        self.started: list[str] = []
        self.done: list[str] = []
        self.skipped: list[str] = []
        self.running: Step | None = None  # the step under way (its campaigns too)
        self.entered: dict[str, datetime] = {}  # phase slug -> when it began
        self.waiting_for: str | None = None
        self.cancelled: str | None = None
        self._plan: Callable[[], list[Step]] = list
        self._shown: tuple[str, datetime | None] | None = None

    def start(self, year: int) -> None:
        """Set the search attributes that never change for this process."""
        workflow.upsert_search_attributes(
            [
                WSIS_YEAR.value_set(year),
                WSIS_PROCESS.value_set(self.process),
                WSIS_PHASE.value_set(self.phase),
            ]
        )

    def phase_label(self, code: str | None = None) -> str:
        code = code or self.phase
        for p in self.table:
            if p.code == code:
                return p.label
        return code.replace("-", " ").capitalize()

    def phase_slug(self, code: str) -> str:
        for p in self.table:
            if p.code == code:
                return p.slug
        return code

    def pending(self) -> list[Step]:
        """Steps not yet done or skipped, earliest first (plan order breaks ties)."""
        plan = self._plan()
        order = {s.key: i for i, s in enumerate(plan)}
        todo = [s for s in plan if s.key not in self.done and s.key not in self.skipped]
        return sorted(todo, key=lambda s: (s.at, order[s.key]))

    def upcoming(self) -> list[StepView]:
        return [
            StepView(key=s.key, at=s.at, summary=s.summary, phase=s.phase) for s in self.pending()
        ]

    def finish(self) -> None:
        """Enter the last phase: cancelled if the process was cancelled, else completed."""
        self.enter(CANCELLED if self.cancelled else COMPLETED)
        self._show(None, [])

    def refresh(self) -> None:
        """Re-show the current details (after a change the plan does not see)."""
        todo = self.pending()
        self._shown = None
        self._show(todo[0] if todo else None, todo[1:4])

    def enter(self, code: PhaseCode | ProcessState) -> None:
        """Move to phase ``code`` and say so in the search attributes."""
        self.phase = code
        self.entered[self.phase_slug(code)] = workflow.now()
        workflow.upsert_search_attributes([WSIS_PHASE.value_set(self.phase_slug(code))])

    def _show(self, step: Step | None, then: list[Step]) -> None:
        shown = (self.phase, step.at if step else None)
        if shown == self._shown:
            return
        self._shown = shown
        workflow.upsert_search_attributes(
            [WSIS_NEXT_DEADLINE.value_set(step.at) if step else WSIS_NEXT_DEADLINE.value_unset()]
        )
        self._describe(step, then)

    def _describe(self, step: Step | None = None, then: list[Step] | None = None) -> None:
        """The current details in the Web UI (metadata: no command, no history event)."""
        if step is None and then is None:
            todo = self.pending()
            step, then = (todo[0] if todo else None), todo[1:4]
        lines = [f"**{self.phase_label()}** ({self.title})"]
        if self.cancelled:
            lines.append(f"Cancelled: {self.cancelled}")
        if self.running:
            lines.append(f"Now: {self.running.summary}")
        if self.waiting_for:
            lines.append(f"Waiting for: {self.waiting_for}")
        if step:
            lines.append(f"Next: {step.summary}, {utc_text(step.at)}")
            lines += [f"Then: {s.summary}, {utc_text(s.at)}" for s in then or []]
        elif not self.cancelled:
            lines.append("All phases are complete.")
        workflow.set_current_details("\n\n".join(lines))
