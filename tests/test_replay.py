"""Saved histories of complete runs replay against the current code, and stay as recorded.

A cycle outlives many deploys: a change that would make a running workflow non-deterministic
fails here, in CI, instead of in production. See tests/histories/README.md.

Why no ``workflow_failure_exception_types`` on the ``Replayer``: with it, Core turns its own
nondeterminism verdict into a workflow failure, the eviction hook records the error, and the
replayer's teardown then waits for a worker task that never ends (temporalio 1.35): a broken
change made the replay of ocp_2017 hang until pytest's timeout instead of failing. Without it
the replayer returns the ``NondeterminismError`` at once. (On a live ``Worker`` the option is
right: it fails the workflow instead of retrying its task for ever; the tests' workers use it.)
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, WorkflowReplayResult

from models.wire import OcpInput, ProcessStatus
from worker import SANDBOX, WORKFLOWS
from workflows.ocp import OcpWorkflow

HISTORIES = Path(__file__).parent / "histories"
SAVED = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"saved-{path.stem}", path.read_text(encoding="utf-8"))


async def replay(history: WorkflowHistory, workflows: list[type]) -> WorkflowReplayResult:
    """Replay with the worker's converter and sandbox; never longer than a few seconds."""
    replayer = Replayer(
        workflows=workflows, workflow_runner=SANDBOX, data_converter=pydantic_data_converter
    )
    async with asyncio.timeout(30):
        return await replayer.replay_workflow(history, raise_on_replay_failure=False)


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
async def test_saved_history_replays(path: Path) -> None:
    history = load(path)
    assert len(history.events) > 10
    result = await replay(history, list(WORKFLOWS))
    assert result.replay_failure is None, result.replay_failure


def test_saved_histories_are_unchanged() -> None:
    """A committed history is never re-recorded in place: its hash is locked."""
    locked: dict[str, str] = {}
    for line in (HISTORIES / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        locked[name] = digest
    assert sorted(locked) == [p.name for p in SAVED], "every saved history is locked, no other"
    for path in SAVED:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == locked[path.name], f"{path.name} changed: add a new recording instead"
    assert {p.stem for p in SAVED} >= {
        "ocp_2017",
        "prizes_2017_voting_extended",
        "cycle_2024",
        "prizes_2024_compressed",
        "cycle_2017_changed_children",
        "ocp_2017_moved_and_cancelled",
    }


@workflow.defn(name="OcpWorkflow")
class OcpWithAnExtraTimer(OcpWorkflow):
    """A deliberately changed copy: one timer more before the first step."""

    @workflow.run
    async def run(self, input: OcpInput) -> ProcessStatus:
        await workflow.sleep(1)
        return await super().run(input)


async def test_a_changed_workflow_fails_its_replay_within_seconds() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await replay(load(HISTORIES / "ocp_2017.json"), [OcpWithAnExtraTimer])
    assert isinstance(result.replay_failure, workflow.NondeterminismError)
    assert "Nondeterminism" in str(result.replay_failure)
    assert loop.time() - started < 10
