"""One shape for every process (the OCP, each prize contest), on the shared timed machine.

A process is a plan of dated steps (``plan()``) run by ``PhaseMachine``. This base class holds
what every process has: the ``status`` query; the ``cancel`` and ``change_deadline`` updates;
the ``forum_moved`` signal from its cycle; the end that a Cancel from the Web UI gets too; and
the helpers its steps call (campaigns, windows). A subclass says what is its own: its plan,
its windows, its deadlines, the cycle file's rules for its snapshot, and any handler only it
has. Handlers are defined here once, as the SDK's own tests define them on a base class.

Following a phase boundary: ``PhaseMachine.run`` sleeps until the step's date, runs its
action (a method of the subclass), which calls ``campaign`` (workflows/campaign.py), which
schedules the one campaign activity (activities/campaign.py) that sends the e-mails.

Every handler that awaits holds ``machine.lock`` (see workflows/machine.py), and every
database write carries the history length as its revision, so a late, retried write of an
older change can never land over a newer one. Since the ``campaigns-outside-lock`` patch, no
one holds the lock while mail goes out: campaigns are queued (workflows/longwork.py) and run
in order once their step or change has let go of the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.windows import WindowActivities
    from models.cycle_file import problem_lines
    from models.phases import COMPLETED, PhaseDef
    from models.plan import ContestPlan, OcpPlan
    from models.wire import (
        BULK_AUDIENCES,
        Audience,
        CampaignRequest,
        CampaignResult,
        Cancellation,
        DeadlineChange,
        ForumShift,
        MessageKind,
        ProcessChanged,
        ProcessStatus,
        WindowRequest,
        WindowResult,
    )
    from workflows.campaign import flush_outbox, send_campaign
    from workflows.machine import PhaseMachine, Step
    from workflows.reports import CycleReports

In = TypeVar("In")
Out = TypeVar("Out")

DB_ACTIVITY_TIMEOUT = timedelta(minutes=2)
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))

# Processes started before this patch do not report their changes to their cycle.
REPORT_CHANGES_PATCH = "report-changes-to-cycle"
CANCELLED_IN_TEMPORAL = "cancelled in Temporal (the Web UI's Cancel, or temporal workflow cancel)"
# A change found no longer valid once it holds the lock is refused (before this patch it was
# applied): the marker is written only when a refusal happens, so old histories replay as is.
RECHECK_PATCH = "recheck-under-lock"
# Campaigns run outside the lock, queued in order (before it, a step held the lock while its
# campaigns ran, and every change waited behind them).
OUTSIDE_LOCK_PATCH = "campaigns-outside-lock"


def revision() -> int:
    """The history's length now: it grows with every workflow task, so a later write always
    carries a higher revision, and replays give the same number."""
    return workflow.info().get_current_history_length()


async def db_step(method: Callable[[Any, In], Out], arg: In, summary: str) -> Out:
    """Run a database activity of a process (idempotent, so retried freely): ``method`` is
    the activity's method, ``arg`` its one input, typed end to end."""
    result: Out = await workflow.execute_activity_method(
        method,
        arg,
        start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
        retry_policy=DB_RETRY,
        summary=summary,
    )
    return result


WindowStep = Callable[[WindowActivities, WindowRequest], WindowResult]


async def window(action: WindowStep, request: WindowRequest, summary: str) -> WindowResult:
    """Open, move, close or cancel an intake window (a database row): ``action`` is one of
    ``WindowActivities``' methods; the request carries the history's length as revision."""
    return await db_step(action, request.model_copy(update={"revision": revision()}), summary)


def refuse(problems: list[str]) -> None:
    """Validators: refuse with every problem on one line."""
    if problems:
        raise ValueError("; ".join(problems))


def refuse_past(when: datetime, label: str) -> None:
    """Validators: a change may not put a date in the past."""
    now = workflow.now()
    if when <= now:
        raise ValueError(
            f"{label} {when.isoformat()} is in the past (it is now "
            f"{now.isoformat(timespec='seconds')})"
        )


def checked(rules: type[BaseModel], plan: BaseModel) -> None:
    """Validators: ``plan`` must pass the cycle file's ``rules`` (in validators only: they
    are not run again on replay, so a rule tightened later cannot break a running cycle)."""
    try:
        rules.model_validate(plan.model_dump())
    except ValidationError as exc:
        raise ValueError("; ".join(problem_lines(exc))) from None


class ProcessWorkflow:
    """The shape of a process; see the module docstring. Not a workflow on its own."""

    # Set by each subclass.
    TABLE: ClassVar[tuple[PhaseDef, ...]]
    PROCESS_NAME: ClassVar[str]  # "consultation", "contest": how notices name it
    DEADLINES: ClassVar[Mapping[str, str]]  # deadline name -> field of the snapshot
    RULES: ClassVar[type[BaseModel]]  # the cycle file's checks of the snapshot

    snapshot: OcpPlan | ContestPlan

    def _setup(
        self,
        *,
        process_id: str,
        process: str,
        year: int,
        title: str,
        mail_title: str,
        snapshot: OcpPlan | ContestPlan,
        campaign_shards: int,
        mail_titles: Mapping[str, str] | None = None,
    ) -> None:
        self.process_id = process_id
        self.year = year
        self.mail_title = mail_title
        self.mail_titles = dict(mail_titles or {})  # the title in other languages
        self.snapshot = snapshot
        self.shards = max(1, campaign_shards)
        self.machine = PhaseMachine(
            process_id=process_id, process=process, title=title, table=self.TABLE
        )
        self.campaigns: list[CampaignResult] = []
        self.changes = 0  # accepted secretariat changes: part of each notice's business key
        self.reports_changes = False
        self.running_campaigns: set[Any] = set()  # campaign calls under way (a cancel stops them)
        self.pending_changes: list[str] = []  # accepted, waiting for a running step to end

    # -- What a subclass provides ------------------------------------------------------------

    def plan(self) -> list[Step]:
        """Every dated step of the process, from the current snapshot."""
        raise NotImplementedError

    def windows(self) -> list[WindowRequest]:
        """The process's intake windows, with their current dates."""
        raise NotImplementedError

    def changed(self) -> ProcessChanged:
        """The report of the current plan the cycle keeps."""
        raise NotImplementedError

    def with_forum_dates(self, move: ForumShift) -> OcpPlan | ContestPlan:
        """The snapshot with the dates its cycle moved with the Forum."""
        raise NotImplementedError

    async def announce_forum_move(self, move: ForumShift) -> None:
        """Tell the participants that the Forum moved (once per process)."""
        await self.campaign(
            f"forum-moved:{self.changes}",
            MessageKind.FORUM_MOVED,
            Audience.EVERYONE,
            f"Tell everyone the Forum has moved ({move.requested_by}: {move.reason})",
            when=move.starts,
            previous_when=move.previous_starts,
            notices=move.notice,
        )

    # -- The run -------------------------------------------------------------------------------

    async def run_process(self) -> ProcessStatus:
        """The whole run: schedule the windows, run the plan, end cleanly however it ends."""
        self.reports_changes = workflow.patched(REPORT_CHANGES_PATCH)  # chosen once per run
        self.machine.outside_lock = workflow.patched(OUTSIDE_LOCK_PATCH)  # chosen once too
        try:
            self.machine.start(self.year)
            for request in self.windows():
                await window(
                    WindowActivities.move_window, request, f"Schedule the {request.kind} window"
                )
            await self.machine.run(self.plan)
        except asyncio.CancelledError:
            # Temporal's own Cancel must end the process as cleanly as the cancel update:
            # windows closed, participants told, phase "cancelled". (Terminate cannot.)
            if self.machine.outside_lock and not self.machine.cancelled:
                self.interrupt(CANCELLED_IN_TEMPORAL)  # its campaign runs in its own task
            async with self.holding():
                if not self.machine.cancelled:
                    await self.end(
                        Cancellation(requested_by="temporal", reason=CANCELLED_IN_TEMPORAL)
                    )
            self.machine.finish()
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise
        # Updates still running (a last notice) finish before the workflow completes.
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.machine.outside_lock:
            await workflow.wait_condition(self.machine.work.idle)
        return self.status()

    @workflow.query
    def status(self) -> ProcessStatus:
        """Phase, scheduled actions still to come, and what is done (never vote counts)."""
        m = self.machine
        return ProcessStatus(
            process_id=m.process_id,
            process=m.process,
            phase=m.phase_slug(m.phase),
            phase_name=m.phase_label(),
            timezone=self.snapshot.timezone,
            upcoming=m.upcoming(),
            done=list(m.done),
            skipped=list(m.skipped),
            entered=dict(m.entered),
            waiting_for=m.waiting_for,
            cancelled=m.cancelled or m.stopping,
            running=m.running.summary if m.running else None,
            pending_changes=list(self.pending_changes),
        )

    # -- Helpers for steps and handlers --------------------------------------------------------

    async def campaign(
        self, step: str, kind: MessageKind, audience: Audience, summary: str, **fields: Any
    ) -> CampaignResult:
        """Send ``kind`` to ``audience`` once (business key ``<process>:<step>``).

        A step dated before the snapshot's ``quiet_before`` (a cycle started late with
        --skip-past) sends nothing: its state applies, its message is stale. Only runs
        started with that field set take this branch, so running workflows replay as before.
        """
        quiet = self.snapshot.quiet_before
        m = self.machine
        running = m.acting if m.outside_lock else m.running
        if quiet is not None and running is not None and running.at < quiet:
            return CampaignResult(key=f"{self.process_id}:{step}")
        request = CampaignRequest(
            key=f"{self.process_id}:{step}",
            process_id=self.process_id,
            kind=kind,
            audience=audience,
            title=self.mail_title,
            titles=self.mail_titles,
            timezone=self.snapshot.timezone,
            shards=self.shards if audience in BULK_AUDIENCES else 1,
            **fields,
        )
        if m.outside_lock:
            # Queued after the campaigns before it; the lock's holder waits for it once it
            # lets go. While a cancel is under way only the cancel notice is still sent.
            ending = m.stopping is not None or m.cancelled is not None
            drop = ending and kind is not MessageKind.PROCESS_CANCELLED
            m.work.add(summary, lambda: self._send(request, summary), drop=drop)
            return CampaignResult(key=request.key)
        return await self._send(request, summary)

    async def _send(self, request: CampaignRequest, summary: str) -> CampaignResult:
        result = await send_campaign(request, summary, running=self.running_campaigns)
        self.campaigns.append(result)
        return result

    async def flush(self) -> None:
        """Send what is still pending in the process's campaigns (queued like a campaign)."""
        m = self.machine
        if not m.outside_lock:
            await flush_outbox(self.process_id)
            return
        summary = "Send acknowledgements still pending"
        m.work.add(summary, lambda: flush_outbox(self.process_id), drop=m.stopping is not None)

    def adopt(self, snapshot: OcpPlan | ContestPlan) -> None:
        """A change was accepted: take the new snapshot and re-arm the timer at once (before
        any await, so that the timer cannot fire on the old date)."""
        self.snapshot = snapshot
        self.machine.replan()
        self.changes += 1

    async def move_windows(self, why: str) -> None:
        """The windows follow the snapshot's dates, in the same step as the change."""
        for request in self.windows():
            await window(
                WindowActivities.move_window, request, f"Move the {request.kind} window ({why})"
            )

    async def report_change(self) -> None:
        """Tell the cycle this process's current plan (it checks a move of the Forum)."""
        parent = workflow.info().parent
        if parent is None or not self.reports_changes:
            return
        cycle = workflow.get_external_workflow_handle(parent.workflow_id)
        await cycle.signal(CycleReports.process_changed, self.changed())

    async def end(self, cancellation: Cancellation) -> None:
        """Cancel: intake stops now, participants are told; the plan ends before its next
        step. Callers hold the lock."""
        self.machine.cancel(cancellation.reason)
        for request in self.windows():
            await window(
                WindowActivities.cancel_window,
                request,
                f"Cancel the {request.kind} window ({cancellation.requested_by})",
            )
        if cancellation.notify:
            await self.campaign(
                "cancelled",
                MessageKind.PROCESS_CANCELLED,
                Audience.EVERYONE,
                f"Tell everyone the {self.PROCESS_NAME} is cancelled",
                notices=cancellation.notice,
            )

    def refuse_if_ended(self) -> None:
        """Validators: a cancelled, cancelling or completed process takes no more changes."""
        if self.machine.cancelled:
            raise ValueError(f"{self.process_id} was cancelled: {self.machine.cancelled}")
        if self.machine.phase == COMPLETED:
            raise ValueError(f"{self.process_id} is complete")
        if self.machine.stopping:
            raise ValueError(f"{self.process_id} is being cancelled: {self.machine.stopping}")

    @contextlib.asynccontextmanager
    async def turn(self, what: str, recheck: Callable[[], None]) -> AsyncIterator[None]:
        """Hold the lock for an accepted change, then apply it.

        The change was accepted at once (its validator passed); it waits here, listed in
        ``status`` as pending, while the lock's holder ends its turn (a step's state changes;
        before the ``campaigns-outside-lock`` patch, the whole step and its campaigns). Mail
        the change queues is waited for once the lock is let go. Once the lock is held, ``recheck``
        (the validator) runs again: a cancel, the end of the process or a date that passed
        meanwhile refuses the change with an ``ApplicationError`` that says why, as
        samples-python's ``safe_message_handlers`` does, instead of applying it.
        """
        self.pending_changes.append(what)
        try:
            await self.machine.lock.acquire()
        finally:
            self.pending_changes.remove(what)
        async with self._held():
            try:
                recheck()
            except ValueError as exc:
                if workflow.patched(RECHECK_PATCH):
                    raise ApplicationError(
                        f"{what} refused once its turn came: {exc}",
                        type="ChangeRefused",
                        non_retryable=True,
                    ) from None
            yield

    @contextlib.asynccontextmanager
    async def holding(self) -> AsyncIterator[None]:
        """Take the lock, apply a change, let go; then wait for the mail it queued."""
        await self.machine.lock.acquire()
        async with self._held():
            yield

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[None]:
        """The lock is held: release it at the end, then wait (outside it) for the jobs
        queued meanwhile, and raise the first one's error. Nothing is queued before the
        ``campaigns-outside-lock`` patch: campaigns ran in place, under the lock."""
        m = self.machine
        jobs = m.work.hold() if m.outside_lock else []
        try:
            yield
        finally:
            m.work.held = None
            m.lock.release()
        errors = await m.work.settle(jobs)
        if errors:
            raise errors[0]

    def interrupt(self, reason: str) -> None:
        """A cancel was accepted: stop every campaign under way now, without waiting for the
        lock (the activity hears it at its next heartbeat; its unsent rows stay unsent)."""
        self.machine.stopping = reason
        self.machine.work.drop_waiting()  # queued mail not yet begun is never sent
        for handle in list(self.running_campaigns):
            handle.cancel()

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
        refuse(cancellation.problems())
        self.refuse_if_ended()

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
            await self.move_windows(f"{change.requested_by}: {change.reason}")
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
        refuse(change.problems())
        self.refuse_if_ended()
        field = self.DEADLINES.get(change.deadline)
        if field is None:
            known = " or ".join(repr(name) for name in self.DEADLINES)
            raise ValueError(f"unknown deadline {change.deadline!r}: {known}")
        if workflow.now() >= getattr(self.snapshot, field):
            raise ValueError(f"the {change.deadline} deadline has passed: that phase is over")
        refuse_past(change.new, "the new deadline")
        checked(self.RULES, self.snapshot.model_copy(update={field: change.new}))

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
