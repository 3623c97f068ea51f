"""The timed state machine both processes run on.

A process is a plan: a list of dated steps (enter a phase, send a reminder, close a window),
rebuilt from the process's *current* dates every time it is needed. The machine sleeps durably
until the earliest step not yet done, runs it, and moves on. A secretariat change (a deadline
extended, a meeting moved) bumps the revision, which wakes the wait: the machine re-plans and
re-arms its timer, so reminders always count back from the current date.

Step actions and the bodies of secretariat changes take turns: both hold ``lock`` while they
run (as samples-python's ``message_passing/safe_message_handlers`` does), so a change never
interleaves with a step that is half done, and a step that waited for the lock while a change
ran re-plans before it runs. A step is marked *started* before its action's first await.

Since the ``campaigns-outside-lock`` patch (``outside_lock``, chosen once per run), long work
never holds the lock: a step's action applies its state under the lock and queues its
campaigns (workflows/longwork.py); the machine lets go of the lock, waits for them, and only
then marks the step *done*. A change made meanwhile applies at once; its own mail is queued
after the running campaign. Runs started before the patch keep the old way (the action's
campaigns run under the lock), so their histories replay unchanged.

It also keeps the operator's view current: the ``WsisPhase`` and ``WsisNextDeadline`` search
attributes and the workflow's current details, in plain words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

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
    from workflows.longwork import Job, WorkQueue
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


class PhaseMachine:
    """Runs a plan of dated steps; see the module docstring."""

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
        self.acting: Step | None = None  # the step whose action holds the lock now
        self.outside_lock = False  # campaigns run outside the lock (set once per run)
        self.work = WorkQueue()
        self._step_jobs: list[Job] = []
        # Held by a running step and by every change that awaits: they take turns.
        self.lock = asyncio.Lock()
        self.entered: dict[str, datetime] = {}  # phase slug -> when it began
        self.waiting_for: str | None = None
        self.cancelled: str | None = None
        self.stopping: str | None = None  # a cancel accepted, not yet applied
        self.interrupted: list[str] = []  # steps a cancel stopped midway
        self._revision = 0
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

    def replan(self) -> None:
        """The dates changed: wake the wait, rebuild the plan and re-arm the timer."""
        self._revision += 1

    def cancel(self, reason: str) -> None:
        """Stop before the next step; the run ends in phase ``cancelled``."""
        self.cancelled = reason
        self.replan()

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

    async def run(self, plan: Callable[[], list[Step]]) -> None:
        """Run ``plan`` to its end (or until cancelled), then enter completed or cancelled."""
        self._plan = plan
        while not self.cancelled:
            todo = self.pending()
            if not todo:
                break
            step = todo[0]
            self._show(step, todo[1:4])
            seen = self._revision
            delay = step.at - workflow.now()
            if delay > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda seen=seen: self._revision != seen,  # type: ignore[misc]
                        timeout=delay,
                        timeout_summary=f"until {utc_text(step.at)}: {step.summary}",
                    )
                    continue  # something changed: re-plan
                except TimeoutError:
                    pass
            jobs: list[Job] | None = None
            async with self.lock:
                if self._revision != seen:
                    continue  # a change ran while this step waited for the lock: re-plan
                if self.cancelled:
                    break
                if self.outside_lock:
                    jobs = await self._start_step(step)
                else:
                    await self._run_step(step)
            if jobs is not None:
                await self._end_step(step, jobs)  # its campaigns, outside the lock
        self.finish()

    async def _start_step(self, step: Step) -> list[Job] | None:
        """Under the lock: the step's state (phase, windows), marked started; the campaigns it
        queues are returned, to be waited for once the lock is let go."""
        if step.expires_at is not None and workflow.now() >= step.expires_at:
            self.skipped.append(step.key)
            return None
        if step.phase is not None:
            self.enter(step.phase)
        self.started.append(step.key)
        self.running = self.acting = step
        self._describe()
        self._step_jobs = self.work.hold()
        try:
            await step.action()
        except BaseException:
            self.running = None
            raise
        finally:
            self.acting = None
            self.work.held = None
        return self._step_jobs

    async def _end_step(self, step: Step, jobs: list[Job]) -> None:
        """Outside the lock: the step's campaigns run; then it is done, or interrupted."""
        try:
            errors = await self.work.settle(jobs)
        finally:
            self.running = None
            self._describe()
        ending = self.stopping is not None or self.cancelled is not None
        for err in errors:
            if not (ending and isinstance(err, ActivityError)):
                raise err
            if not isinstance(err.cause, CancelledError):
                raise err
        if errors or any(job.dropped for job in jobs):
            self.interrupted.append(step.key)  # a cancel stopped it: not done
            return
        self.done.append(step.key)

    async def _run_step(self, step: Step) -> None:
        if step.expires_at is not None and workflow.now() >= step.expires_at:
            self.skipped.append(step.key)
            return
        if step.phase is not None:
            self.enter(step.phase)
        self.started.append(step.key)
        self.running = step
        self._describe()
        try:
            await step.action()
        except ActivityError as err:
            if self.stopping is None or not isinstance(err.cause, CancelledError):
                raise
            # A cancel stopped its campaign: the step is not done; the cancel, queued on the
            # lock before this step let go of it, ends the process next.
            self.interrupted.append(step.key)
            return
        finally:
            self.running = None
        self.done.append(step.key)

    def finish(self) -> None:
        """Enter the last phase: cancelled if the process was cancelled, else completed."""
        self.enter(CANCELLED if self.cancelled else COMPLETED)
        self._show(None, [])

    async def wait_for(self, what: str, done: Callable[[], bool]) -> None:
        """Block the plan until ``done()``, saying in the UI what it waits for.

        Called by a step, which holds the lock: the lock is let go while waiting (as a
        condition variable does), so that the changes it waits for can run.
        """
        if done():
            return
        self.waiting_for = what
        self.refresh()
        if self.outside_lock:  # changes made while it waits queue their own mail
            self.work.held, self.acting = None, None
        self.lock.release()
        try:
            await workflow.wait_condition(lambda: done() or self.cancelled is not None)
        finally:
            await self.lock.acquire()
            if self.outside_lock:
                self.work.hold(self._step_jobs)
                self.acting = self.running
        self.waiting_for = None
        self.refresh()

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
