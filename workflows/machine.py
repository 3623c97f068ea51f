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

What the machine is at, the steps still to come and the operator's view of them (search
attributes, current details) are ``PhaseView`` (workflows/machine_view.py); its ``Step``,
``duration_label`` and ``utc_text`` are handed on from here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from models.phases import PhaseDef
    from workflows.longwork import Job, WorkQueue
    from workflows.machine_view import PhaseView, Step, duration_label, utc_text

__all__ = ["PhaseMachine", "PhaseView", "Step", "duration_label", "utc_text"]


class PhaseMachine(PhaseView):
    """Runs a plan of dated steps; see the module docstring."""

    def __init__(
        self,
        *,
        process_id: str,
        process: str,
        title: str,
        table: tuple[PhaseDef, ...],
    ) -> None:
        super().__init__(process_id=process_id, process=process, title=title, table=table)
        self.acting: Step | None = None  # the step whose action holds the lock now
        self.outside_lock = False  # campaigns run outside the lock (set once per run)
        self.work = WorkQueue()
        self._step_jobs: list[Job] = []
        # Held by a running step and by every change that awaits: they take turns.
        self.lock = asyncio.Lock()
        self.stopping: str | None = None  # a cancel accepted, not yet applied
        self.interrupted: list[str] = []  # steps a cancel stopped midway
        self._revision = 0

    def replan(self) -> None:
        """The dates changed: wake the wait, rebuild the plan and re-arm the timer."""
        self._revision += 1

    def cancel(self, reason: str) -> None:
        """Stop before the next step; the run ends in phase ``cancelled``."""
        self.cancelled = reason
        self.replan()

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
