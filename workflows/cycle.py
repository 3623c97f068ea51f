"""The annual cycle: one OCP and the cycle's contests, run as child workflows.

An operator sees the cycle as a tree in the Web UI: ``wsis-2017`` with ``wsis-2017-ocp`` and
``wsis-2017-prizes`` below it. The parent completes when every child has.

The cycle keeps each process's current plan (each reports it after a secretariat change), so
that moving the Forum is checked against all of them together, by the cycle file's own rules,
before any process is told.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import CancelledError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from models.cycle import CycleConfig
    from models.moves import forum_moved
    from models.phases import CANCELLED, COMPLETED, PhaseCode
    from models.plan import ContestPlan, CyclePlan
    from models.wire import (
        ContestInput,
        CycleInput,
        ForumMove,
        ForumShift,
        OcpInput,
    )
    from workflows.ocp import OcpWorkflow
    from workflows.prizes import PrizeContestWorkflow
    from workflows.process import ProcessWorkflow
    from workflows.reports import CycleReports
    from workflows.search_attributes import WSIS_PHASE, WSIS_PROCESS, WSIS_YEAR
    from workflows.turns import refuse_in_turn
    from workflows.validators import refuse, refuse_past, refuse_plan


def _attributes(year: int, process: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(WSIS_YEAR, year),
            SearchAttributePair(WSIS_PROCESS, process),
            SearchAttributePair(WSIS_PHASE, "not-started"),
        ]
    )


@workflow.defn
class AnnualCycleWorkflow(CycleReports):
    """Starts the OCP and every contest of the cycle, then waits for all of them."""

    @workflow.init
    def __init__(self, input: CycleInput) -> None:
        self.config: CyclePlan = input.config
        self.shards = input.campaign_shards
        self.children: list[str] = []
        self.finished: dict[str, str] = {}
        self.lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: CycleInput) -> dict[str, str]:
        """Returns each process's last phase (``completed`` or ``cancelled``)."""
        cycle = self.config
        workflow.upsert_search_attributes(
            [
                WSIS_YEAR.value_set(cycle.year),
                WSIS_PROCESS.value_set("cycle"),
                WSIS_PHASE.value_set("running"),
            ]
        )
        handles: list[Any] = [
            await workflow.start_child_workflow(
                OcpWorkflow.run,
                OcpInput(
                    cycle_id=cycle.cycle_id,
                    year=cycle.year,
                    title=cycle.display_title,
                    ocp=cycle.ocp,
                    campaign_shards=self.shards,
                    titles=dict(cycle.titles),
                ),
                id=cycle.ocp_id,
                static_summary=f"{cycle.display_title}: Open Consultation Process",
                search_attributes=_attributes(cycle.year, "ocp"),
            )
        ]
        for contest in cycle.contests:
            handles.append(await self._start_contest(contest))
        self.children = [h.id for h in handles]
        self._details()
        try:
            await asyncio.gather(*(self._watch(h) for h in handles))
        except asyncio.CancelledError:
            # A Cancel of the cycle reaches every child, which ends as cleanly as its cancel
            # update (windows closed, participants told) before this is raised here.
            workflow.upsert_search_attributes([WSIS_PHASE.value_set(CANCELLED)])
            self._details()
            raise
        workflow.upsert_search_attributes([WSIS_PHASE.value_set(COMPLETED)])
        self._details()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return dict(self.finished)

    async def _start_contest(self, contest: ContestPlan) -> Any:
        cycle = self.config
        return await workflow.start_child_workflow(
            PrizeContestWorkflow.run,
            ContestInput(
                cycle_id=cycle.cycle_id,
                year=cycle.year,
                title=cycle.display_title,
                contest=contest,
                campaign_shards=self.shards,
            ),
            id=cycle.contest_id(contest),
            static_summary=f"{contest.name}: five-phase contest",
            search_attributes=_attributes(cycle.year, contest.process_suffix),
        )

    async def _watch(self, handle: Any) -> None:
        try:
            self.finished[handle.id] = (await handle).phase
        except ChildWorkflowError as exc:
            # A process cancelled on its own (in the Web UI) leaves the others running.
            if not isinstance(exc.cause, CancelledError):
                raise
            self.finished[handle.id] = CANCELLED
        self._details()

    def _details(self) -> None:
        lines = [
            f"**{self.config.display_title}**: the OCP and {len(self.config.contests)} "
            f"contest(s), run as child workflows."
        ]
        for child in self.children:
            state = self.finished.get(child, "running")
            lines.append(f"- {child}: {state}")
        workflow.set_current_details("\n".join(lines))

    @workflow.query
    def processes(self) -> list[str]:
        """The workflow ids of the cycle's processes."""
        return list(self.children)

    # -- Moving the Forum ----------------------------------------------------------------------

    @workflow.query
    def plan(self) -> CyclePlan:
        """The cycle as its processes plan it now (``starter.py move-forum`` starts here)."""
        return self.config

    @workflow.update
    async def move_forum(self, move: ForumMove) -> dict[str, str]:
        """Move the Forum: the OCP's final brief and every contest's ceremony move with it,
        and each process tells its participants once. Returns each process told."""
        async with self.lock:
            # Re-checked under the lock: a move that waited behind another one is refused,
            # not applied over it (see ProcessWorkflow.turn).
            # (Not the whole validator: its time-zone arithmetic must not run on replay.)
            try:
                if workflow.now() >= self.config.forum.starts:
                    raise ValueError("the Forum has begun: it can no longer move")
                refuse_past(move.starts, "the Forum's new start")
            except ValueError as exc:
                refuse_in_turn("the Forum's move", exc)
            assert move.moved is not None  # the validator refused it otherwise
            previous = self.config.forum.starts
            self.config = move.moved
            told: dict[str, str] = {}
            for child in self.children:
                if child in self.finished:
                    continue
                await workflow.get_external_workflow_handle(child).signal(
                    ProcessWorkflow.forum_moved, self._shift_for(child, move, previous)
                )
                told[child] = "moved"
            self._details()
        return told

    def _shift_for(self, child: str, move: ForumMove, previous: datetime) -> ForumShift:
        """What one process is told: the Forum's dates and its own moved dates."""
        moved = self.config
        fields: dict[str, Any] = {}
        if child == moved.ocp_id:
            fields["final_brief"] = moved.ocp.final_brief
            fields["meetings"] = {
                k: m for k, m in moved.ocp.meetings.items() if m.phase == PhaseCode.VI
            }
        for contest in moved.contests:
            if moved.contest_id(contest) == child:
                fields["ceremony"] = contest.ceremony
        return ForumShift(
            requested_by=move.requested_by,
            reason=move.reason,
            notice=move.notice,
            previous_starts=previous,
            starts=move.starts,
            ends=move.ends,
            **fields,
        )

    @move_forum.validator
    def _check_forum(self, move: ForumMove) -> None:
        refuse(move.problems())
        if workflow.now() >= self.config.forum.starts:
            raise ValueError("the Forum has begun: it can no longer move")
        refuse_past(move.starts, "the Forum's new start")
        # Validators are not replayed: here, and only here, the time-zone database may tell
        # what the move means (the same local times, a number of days later).
        expected = forum_moved(self.config, move.starts, move.ends, workflow.now())
        if move.moved is None or move.moved != expected:
            raise ValueError(
                "the cycle changed since its plan was read (or no moved plan was given): "
                "run starter.py move-forum again"
            )
        refuse(_moved_into_the_past(self.config, expected, workflow.now()))
        refuse_plan(CycleConfig, expected)


def _moved_into_the_past(before: CyclePlan, after: CyclePlan, now: datetime) -> list[str]:
    """Dates the move would put in the past (a Forum brought forward by more than they are
    away): a step there would run at once instead of at its date."""
    problems = []
    brief = after.ocp.final_brief
    if brief is not None and brief != before.ocp.final_brief and brief <= now:
        problems.append("the OCP's final brief would move into the past")
    for key, meeting in after.ocp.meetings.items():
        if meeting != before.ocp.meetings[key] and meeting.starts <= now:
            problems.append(f"the meeting {key!r} would move into the past")
    for old, new in zip(before.contests, after.contests, strict=True):
        if new.ceremony != old.ceremony and new.ceremony <= now:
            problems.append(f"the ceremony of {new.name} would move into the past")
    return problems
