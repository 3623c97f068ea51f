"""Saved histories of complete runs replay against the current code.

A cycle outlives many deploys: a change that would make a running workflow non-deterministic
fails here, in CI, instead of in production. Re-record after an intended, patched change with
``WSIS_RECORD_HISTORIES=1 make test``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import SANDBOX, WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays(path: Path) -> None:
    text = path.read_text()  # noqa: ASYNC240 (a small local file)
    history = WorkflowHistory.from_json(f"saved-{path.stem}", text)
    assert len(history.events) > 10
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        workflow_runner=SANDBOX,
        data_converter=pydantic_data_converter,
        workflow_failure_exception_types=[workflow.NondeterminismError],
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_histories_are_saved() -> None:
    assert {p.stem for p in HISTORIES} >= {
        "ocp_2017",
        "cycle_2024",
        "prizes_2024_compressed",
        "prizes_2017_voting_extended",
    }
