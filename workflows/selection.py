"""Phase IV of a prize contest: the Expert Group's selection, and the duties around it.

What the contest workflow does for the Expert Group (the experts score in the console,
services/judging.py; the lead's or the secretariat's choice is the ``select_winner`` update):

- **Reminders.** Before phase IV ends (the Champions' announcement), by default 7 and 2 days
  before (the cycle file's ``expert_reminders``), the experts who have not finished are
  reminded: those with a shortlisted project in their assignments that they have neither
  scored nor recused from (the audience ``experts-unfinished``, a query in the campaign
  activity: no expert reaches the workflow). The steps count back from the phase's *current*
  end: ``move_selection`` moves it, and the reminders are planned again from the new end,
  under new keys (so they are sent again), leaving out those already past when it moved.
- **Waiting for the winners.** At the end of phase IV, the Champions are announced only once
  every category with a shortlist has its winner (the Champions are the rest of the
  shortlist: announcing them before names the winner by elimination, or names the winner a
  Champion). Until then the secretariat is told, every day, which categories wait; the
  winners' announcement at the ceremony follows the Champions', so it waits too. The
  secretariat may move the end of the phase beforehand (``move_selection``) or the ceremony.

All this is new behaviour of the workflow: it is chosen once per run behind the
``phase-four-duties`` patch, so runs started before it (and the saved histories) replay as
they were recorded: no reminder, and the Champions announced at their date, whatever waits.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from functools import partial

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.prizes import PrizeActivities
    from models.phases import PhaseCode
    from models.plan import ContestPlan
    from models.wire import (
        Audience,
        MessageKind,
        ProcessStatus,
        SelectionChange,
        WinnerRequest,
        WinnerSelection,
    )
    from workflows.machine import Step, duration_label, utc_text
    from workflows.process import ProcessWorkflow, db_step, revision
    from workflows.validators import refuse_plan

PHASE_FOUR_PATCH = "phase-four-duties"
ALERT_EVERY = timedelta(days=1)


class ExpertGroupSelection(ProcessWorkflow):
    """Phase IV's handlers and steps, for ``PrizeContestWorkflow``; see the module docstring."""

    snapshot: ContestPlan

    def _setup_selection(self) -> None:
        self.shortlist: dict[str, list[int]] = {}
        self.winners: dict[str, list[int]] = {}
        # True outside a workflow (the start's preview plans the reminders); in a run, what
        # the patch says at its start.
        self.phase_four_duties = True
        self.selection_moves = 0  # accepted moves of the end of phase IV
        self.selection_moved_at: datetime | None = None

    def choose_duties(self) -> None:
        """Once, at the start of the run: does this run remind and wait (the patch)?"""
        self.phase_four_duties = workflow.patched(PHASE_FOUR_PATCH)

    # -- Reminders -----------------------------------------------------------------------------

    def expert_reminder_steps(self) -> list[Step]:
        """The experts' reminders, counted back from the current end of phase IV. None before
        phase IV begins (nothing is shortlisted yet), none already past when the end moved."""
        c = self.snapshot
        if not self.phase_four_duties:
            return []
        moved = f"moved-{self.selection_moves}:" if self.selection_moves else ""
        steps = []
        for span in sorted(c.expert_reminders, reverse=True):
            at = c.champions_announced - span
            if at < c.voting_closes:
                continue
            if self.selection_moved_at is not None and at < self.selection_moved_at:
                continue
            label = duration_label(span)
            steps.append(
                Step(
                    f"expert-reminder:{moved}{label}",  # ends with the span: mail/context.py
                    at,
                    f"Remind the experts who have not finished scoring ({label} before the end "
                    "of phase IV)",
                    partial(self._remind_experts, f"expert-reminder:{moved}{label}"),
                    expires_at=c.champions_announced,
                )
            )
        return steps

    async def _remind_experts(self, key: str) -> None:
        await self.campaign(
            key,
            MessageKind.EXPERT_REMINDER,
            Audience.EXPERTS_UNFINISHED,
            "Remind the experts who have not finished scoring",
            when=self.snapshot.champions_announced,
        )

    @workflow.update
    async def move_selection(self, change: SelectionChange) -> ProcessStatus:
        """Move the end of phase IV (the Champions' announcement); the experts' reminders are
        planned again from the new end."""
        async with self.turn("move of the end of phase IV", lambda: self._check_move(change)):
            self.selection_moves += 1
            self.selection_moved_at = workflow.now()
            self.adopt(self.snapshot.model_copy(update={"champions_announced": change.ends}))
            await self.report_change()
        return self.status()

    @move_selection.validator
    def _check_move(self, change: SelectionChange) -> None:
        self.refuse_unless_open(change)
        if workflow.now() >= self.snapshot.champions_announced:
            raise ValueError("phase IV has ended: move the ceremony instead")
        moved = self.snapshot.model_copy(update={"champions_announced": change.ends})
        refuse_plan(self.RULES, moved, new=change.ends, label="the new end of phase IV")

    # -- The Expert Group's choice ---------------------------------------------------------------

    @workflow.update
    async def select_winner(self, selection: WinnerSelection) -> list[int]:
        """Record the winner(s) of a category, chosen from its shortlist."""
        async with self.turn(
            f"winner of {selection.category}", lambda: self._check_selection(selection)
        ):
            await db_step(
                PrizeActivities.record_winners,
                WinnerRequest(
                    process_id=self.process_id,
                    category=selection.category,
                    project_ids=selection.project_ids,
                    revision=revision(),
                ),
                f"Record the winner of {selection.category} ({selection.requested_by})",
            )
            self.winners[selection.category] = list(selection.project_ids)
        return self.winners[selection.category]

    @select_winner.validator
    def _check_selection(self, selection: WinnerSelection) -> None:
        self.refuse_unless_open(selection)
        if self.machine.phase != PhaseCode.IV:
            raise ValueError(
                f"winners are selected in phase IV (Selection by the Expert Group); "
                f"{self.process_id} is in {self.machine.phase_label()}"
            )
        if selection.category not in self.shortlist:
            raise ValueError(f"category {selection.category!r} has no shortlist in this contest")
        allowed = self.shortlist[selection.category]
        outside = [p for p in selection.project_ids if p not in allowed]
        if outside:
            raise ValueError(
                f"project(s) {', '.join(map(str, outside))} are not on the shortlist of "
                f"{selection.category} ({', '.join(map(str, allowed))})"
            )
        if len(set(selection.project_ids)) > self.snapshot.winners_per_category:
            raise ValueError(f"at most {self.snapshot.winners_per_category} winner(s) per category")

    def missing_winners(self) -> list[str]:
        """The shortlisted categories still without their winner(s)."""
        need = self.snapshot.winners_per_category
        return [
            c
            for c, ids in self.shortlist.items()
            if len(self.winners.get(c, [])) < min(need, len(ids))
        ]

    async def hold_for_winners(self) -> None:
        """At the end of phase IV: while a category has no winner, tell the secretariat which,
        then again every day, and wait (the lock let go, so the choice can come in)."""
        day = 0
        while (missing := self.missing_winners()) and not self._ending():
            day += 1
            await self.campaign(
                f"winners-missing:{day}",
                MessageKind.SECRETARIAT_NOTICE,
                Audience.SECRETARIAT,
                f"Tell the secretariat which categories still need a winner (day {day})",
                note=f"Phase IV has ended ({utc_text(self.snapshot.champions_announced)}) and "
                f"the Expert Group has not chosen the winner of: {', '.join(missing)}. The "
                "Champions and the winners are not announced until it has (the console's "
                f"Decision page, or starter.py select-winner). Reminder {day}, sent daily.",
            )
            tick = asyncio.create_task(
                workflow.sleep(ALERT_EVERY, summary="the secretariat's next daily reminder")
            )
            try:
                await self.machine.wait_for(
                    f"the Expert Group's winner in {', '.join(missing)} (reminding the "
                    "secretariat daily)",
                    lambda tick=tick: not self.missing_winners() or tick.done(),  # type: ignore[misc]
                )
            finally:
                if not tick.done():
                    tick.cancel()

    def _ending(self) -> bool:
        return self.machine.cancelled is not None or self.machine.stopping is not None
