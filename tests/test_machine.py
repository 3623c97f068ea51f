"""The timed state machine on its own: no database, no SMTP, virtual time.

A harness workflow runs a plan of five dated steps on ``PhaseMachine`` and records when each
one ran. The test moves a step while the machine sleeps, lets a step wait for a condition
and expires a reminder; the whole machine is exercised in well under a second.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from models.phases import OCP_PHASES, PhaseCode
    from workflows.machine import PhaseMachine, Step


@workflow.defn(sandboxed=False)
class MachineHarness:
    """Steps at +1h (phase I), +2h (expires at +90m: skipped), +3h (movable), +4h (waits for
    ``release``), +5h; each records (key, hours since start) when it runs."""

    @workflow.init
    def __init__(self, start: datetime) -> None:
        self.start = start
        self.machine = PhaseMachine(process_id="t", process="ocp", title="t", table=OCP_PHASES)
        self.moved_to: timedelta | None = None
        self.released = False
        self.ran: list[tuple[str, float]] = []

    @workflow.run
    async def run(self, start: datetime) -> list[tuple[str, float]]:
        self.machine.start(2017)
        await self.machine.run(self.plan)
        return self.ran

    def plan(self) -> list[Step]:
        def at(hours: float) -> datetime:
            return self.start + timedelta(hours=hours)

        third = self.start + self.moved_to if self.moved_to else at(3)
        return [
            Step("open", at(1), "enter phase I", self._note("open"), phase=PhaseCode.I),
            Step("late", at(2), "expired reminder", self._note("late"), expires_at=at(1.5)),
            Step("movable", third, "a step the secretariat moves", self._note("movable")),
            Step("waits", at(4), "waits for a decision", self._wait),
            Step("last", at(5), "the last step", self._note("last"), phase=PhaseCode.II),
        ]

    def _note(self, key: str):  # type: ignore[no-untyped-def]
        async def action() -> None:
            self.ran.append((key, (workflow.now() - self.start) / timedelta(hours=1)))

        return action

    async def _wait(self) -> None:
        await self.machine.wait_for("a decision", lambda: self.released)
        self.ran.append(("waits", (workflow.now() - self.start) / timedelta(hours=1)))

    @workflow.signal
    def move(self, hours: float) -> None:
        self.moved_to = timedelta(hours=hours)
        self.machine.replan()

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.query
    def waiting(self) -> str | None:
        return self.machine.waiting_for


async def test_the_machine_runs_moves_skips_and_waits(skipping_env: WorkflowEnvironment) -> None:
    client = skipping_env.client
    queue = f"machine-{uuid.uuid4().hex[:8]}"
    start = (await skipping_env.get_current_time()).replace(microsecond=0)
    async with Worker(client, task_queue=queue, workflows=[MachineHarness]):
        handle = await client.start_workflow(
            MachineHarness.run, start, id=f"machine-{queue}", task_queue=queue
        )
        await skipping_env.sleep(timedelta(hours=2, minutes=30))
        await handle.signal(MachineHarness.move, 3.5)  # while it sleeps: re-plan, re-arm
        await skipping_env.sleep(timedelta(hours=2))  # now +4h30: the fourth step waits
        assert await handle.query(MachineHarness.waiting) == "a decision"
        await skipping_env.sleep(timedelta(hours=3))  # past the last step's date: still waits
        await handle.signal(MachineHarness.release)
        ran = await handle.result()
    assert [key for key, _ in ran] == ["open", "movable", "waits", "last"]  # "late" skipped
    hours = dict(ran)
    second = 1 / 3600
    assert abs(hours["open"] - 1) < second and abs(hours["movable"] - 3.5) < second
    # The wait held the plan: the last step ran only after the decision, at once.
    assert hours["waits"] >= 7.5 and abs(hours["last"] - hours["waits"]) < second
