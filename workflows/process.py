"""One shape for every process (the OCP, each prize contest), and the changes every process
takes: the ``cancel`` and ``change_deadline`` updates and the ``forum_moved`` signal from its
cycle. Handlers are defined here once, on a base class, as the SDK's own tests define them; a
subclass (workflows/ocp.py, workflows/prizes.py) adds its plan, its windows, its deadlines,
the cycle file's rules for its snapshot, and any handler only it has.

Where the rest lives: what every process is made of (setup, run, ``status``, campaigns, the
end) in workflows/process_core.py; the lock's protocol a change follows (wait for the lock,
check again, apply; a cancel interrupts at once) in workflows/turns.py; the database activity
calls in workflows/database.py; the validators' helpers in workflows/validators.py. The names
the subclasses and the cycle import are handed on from here.

Following a secretariat's change: the update's validator (``_check_deadline``) refuses it or
accepts it at once; the handler takes its ``turn`` (the validator runs again under the lock),
``adopt``s the new snapshot (the machine re-plans), moves the windows and queues the notice.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.windows import WindowActivities
    from models.phases import COMPLETED
    from models.wire import (
        Audience,
        Cancellation,
        Checkable,
        DeadlineChange,
        ForumShift,
        MessageKind,
        ProcessStatus,
    )
    from workflows.database import db_step, revision, window
    from workflows.process_core import (
        CANCELLED_IN_TEMPORAL,
        OUTSIDE_LOCK_PATCH,
        REPORT_CHANGES_PATCH,
        ProcessCore,
    )
    from workflows.turns import RECHECK_PATCH
    from workflows.validators import refuse_plan

__all__ = [
    "CANCELLED_IN_TEMPORAL",
    "OUTSIDE_LOCK_PATCH",
    "RECHECK_PATCH",
    "REPORT_CHANGES_PATCH",
    "ProcessWorkflow",
    "db_step",
    "revision",
    "window",
]


class ProcessWorkflow(ProcessCore):
    """The shape of a process; see the module docstring. Not a workflow on its own."""

    def refuse_unless_open(self, change: Checkable) -> None:
        """Validators, first: the change's own problems (its texts, who asks), and a process
        that still takes changes (not cancelled, being cancelled or complete)."""
        if problems := change.problems():
            raise ValueError("; ".join(problems))
        if self.machine.cancelled:
            raise ValueError(f"{self.process_id} was cancelled: {self.machine.cancelled}")
        if self.machine.phase == COMPLETED:
            raise ValueError(f"{self.process_id} is complete")
        if self.machine.stopping:
            raise ValueError(f"{self.process_id} is being cancelled: {self.machine.stopping}")

    # -- Handlers every process has ------------------------------------------------------------

    @workflow.update
    async def cancel(self, cancellation: Cancellation) -> ProcessStatus:
        """Cancel the process: a campaign under way stops at once, intake stops, participants
        are told."""
        self.interrupt(cancellation.reason)
        try:
            async with self.turn("cancel", self._ended_meanwhile):
                await self.end(cancellation)
        finally:
            self.machine.stopping = None
        return self.status()

    def _ended_meanwhile(self) -> None:
        if self.machine.cancelled:
            raise ValueError(f"{self.process_id} was cancelled: {self.machine.cancelled}")
        if self.machine.phase == COMPLETED:
            raise ValueError(f"{self.process_id} is complete")

    @cancel.validator
    def _check_cancel(self, cancellation: Cancellation) -> None:
        self.refuse_unless_open(cancellation)

    @workflow.update
    async def change_deadline(self, change: DeadlineChange) -> ProcessStatus:
        """Extend or bring forward a deadline; the windows follow, everyone is told once."""
        async with self.turn(
            f"{change.deadline} deadline to {change.new.isoformat()}",
            lambda: self._check_deadline(change),
        ):
            field = self.DEADLINES[change.deadline]
            previous = getattr(self.snapshot, field)
            self.adopt(self.snapshot.model_copy(update={field: change.new}))
            why = f"{change.requested_by}: {change.reason}"
            for request in self.windows():  # the windows follow, in the same step
                await window(
                    WindowActivities.move_window, request, f"Move the {request.kind} window ({why})"
                )
            await self.campaign(
                f"deadline-change:{self.changes}",
                MessageKind.DEADLINE_CHANGED,
                Audience.EVERYONE,
                f"Tell everyone the new {change.deadline} deadline",
                when=change.new,
                previous_when=previous,
                notices=change.notice,
            )
            await self.report_change()
        return self.status()

    @change_deadline.validator
    def _check_deadline(self, change: DeadlineChange) -> None:
        self.refuse_unless_open(change)
        field = self.DEADLINES.get(change.deadline)
        if field is None:
            known = " or ".join(repr(name) for name in self.DEADLINES)
            raise ValueError(f"unknown deadline {change.deadline!r}: {known}")
        if workflow.now() >= getattr(self.snapshot, field):
            raise ValueError(f"the {change.deadline} deadline has passed: that phase is over")
        moved = self.snapshot.model_copy(update={field: change.new})
        refuse_plan(self.RULES, moved, new=change.new, label="the new deadline")

    @workflow.signal
    async def forum_moved(self, move: ForumShift) -> None:
        """The cycle moved the Forum (it checked every process's current plan first): the
        dates held at the Forum move with it and the participants are told once."""
        async with self.holding():
            if self.machine.cancelled or self.machine.stopping or self.machine.phase == COMPLETED:
                return
            # No window is held at the Forum: only the plan and the participants hear of it.
            self.adopt(self.with_forum_dates(move))
            await self.announce_forum_move(move)
            await self.report_change()
