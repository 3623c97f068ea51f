"""The annual cycle: one OCP and the cycle's contests, run as child workflows.

An operator sees the cycle as a tree in the Web UI: ``wsis-2017`` with ``wsis-2017-ocp`` and
``wsis-2017-prizes`` below it. The parent completes when every child has.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from models.phases import COMPLETED
    from models.plan import ContestPlan
    from models.wire import ContestInput, CycleInput, OcpInput, ProcessStatus
    from workflows.ocp import OcpWorkflow
    from workflows.prizes import PrizeContestWorkflow
    from workflows.search_attributes import WSIS_PHASE, WSIS_PROCESS, WSIS_YEAR


def _attributes(year: int, process: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(WSIS_YEAR, year),
            SearchAttributePair(WSIS_PROCESS, process),
            SearchAttributePair(WSIS_PHASE, "not-started"),
        ]
    )


@workflow.defn
class AnnualCycleWorkflow:
    """Starts the OCP and every contest of the cycle, then waits for all of them."""

    @workflow.init
    def __init__(self, input: CycleInput) -> None:
        self.config = input.config
        self.children: list[str] = []
        self.finished: dict[str, str] = {}

    @workflow.run
    async def run(self, input: CycleInput) -> list[ProcessStatus]:
        cycle = input.config
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
        results: list[ProcessStatus] = list(
            await asyncio.gather(*(self._watch(h) for h in handles))
        )
        workflow.upsert_search_attributes([WSIS_PHASE.value_set(COMPLETED)])
        self._details()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return results

    async def _start_contest(self, contest: ContestPlan) -> Any:
        cycle = self.config
        return await workflow.start_child_workflow(
            PrizeContestWorkflow.run,
            ContestInput(
                cycle_id=cycle.cycle_id, year=cycle.year, title=cycle.display_title, contest=contest
            ),
            id=cycle.contest_id(contest),
            static_summary=f"{contest.name}: five-phase contest",
            search_attributes=_attributes(cycle.year, contest.process_suffix),
        )

    async def _watch(self, handle: Any) -> ProcessStatus:
        result: ProcessStatus = await handle
        self.finished[handle.id] = result.phase
        self._details()
        return result

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
