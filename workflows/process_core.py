"""What every process is made of (the OCP, each prize contest): its setup, its run on the
shared timed machine, its ``status`` query, and the helpers its steps and changes call
(campaigns, the outbox flush, a new snapshot, the report to its cycle, the end).

Following a phase boundary: ``PhaseMachine.run`` sleeps until the step's date and runs its
action (a method of the subclass), which calls ``campaign``; since the
``campaigns-outside-lock`` patch that queues ``send_campaign`` (workflows/campaign.py), which
schedules the campaign activity (activities/campaign.py) that sends the e-mails.

The handlers every process has are in workflows/process.py; the lock's protocol they follow
in workflows/turns.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.windows import WindowActivities
    from models.phases import PhaseDef
    from models.plan import ContestPlan, OcpPlan
    from models.wire import (
        BULK_AUDIENCES,
        Audience,
        CampaignRequest,
        CampaignResult,
        Cancellation,
        ForumShift,
        MessageKind,
        ProcessChanged,
        ProcessStatus,
        WindowRequest,
    )
    from workflows.campaign import flush_outbox, send_campaign
    from workflows.database import window
    from workflows.machine import PhaseMachine, Step
    from workflows.reports import CycleReports
    from workflows.turns import TakingTurns

# Processes started before this patch do not report their changes to their cycle.
REPORT_CHANGES_PATCH = "report-changes-to-cycle"
CANCELLED_IN_TEMPORAL = "cancelled in Temporal (the Web UI's Cancel, or temporal workflow cancel)"
# Campaigns run outside the lock, queued in order (before it, a step held the lock while its
# campaigns ran, and every change waited behind them).
OUTSIDE_LOCK_PATCH = "campaigns-outside-lock"


class ProcessCore(TakingTurns):
    """What every process is made of; see the module docstring. Not a workflow on its own."""

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
            m.work.add(
                summary,
                lambda: send_campaign(request, summary, running=self.running_campaigns),
                drop=drop,
            )
            return CampaignResult(key=request.key)
        return await send_campaign(request, summary, running=self.running_campaigns)

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
