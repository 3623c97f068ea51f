"""Temporal's own Cancel (the Web UI's button, ``temporal workflow cancel``) on the real dev
server ends a process as cleanly as the secretariat's ``cancel`` update: its windows close,
its participants are told, it ends in phase ``cancelled``. A process cancelled alone leaves
the rest of its cycle running; a cancelled cycle cancels every process in it.
"""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cli.cycle import start_cycle
from core.settings import Settings
from devstack.catcher import MailCatcher
from devstack.temporal import binary
from models.cycle_file import load_cycle
from models.moves import rebased
from models.tables import Window
from models.wire import ProcessStatus
from tests.helpers import assert_eventually
from worker import build_worker
from workflows.process import CANCELLED_IN_TEMPORAL, ProcessWorkflow
from workflows.search_attributes import WSIS_PHASE

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.devserver


def temporal_cancel(env: WorkflowEnvironment, workflow_id: str) -> None:
    """What an operator types (or what the Web UI's Cancel button sends)."""
    address = env.client.service_client.config.target_host
    run = subprocess.run(
        [binary("temporal"), "workflow", "cancel", "--workflow-id", workflow_id,
         "--address", address],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr


async def ended_cancelled(handle: WorkflowHandle) -> None:  # type: ignore[type-arg]
    with pytest.raises(WorkflowFailureError) as err:
        await asyncio.wait_for(handle.result(), 60)
    assert isinstance(err.value.cause, CancelledError)
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.CANCELED
    assert desc.typed_search_attributes.get(WSIS_PHASE) == "cancelled"


async def test_cancel_from_temporal_ends_processes_cleanly(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    client = dev_env.client
    cycle = rebased(
        load_cycle(ROOT / "cycles" / "2024.toml"),
        datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2),
        speedup=86400 / 30,  # a day in 30 s: the OCP opens at once, the contest weeks later
    ).model_copy(update={"id": "wsis-2024-cancel"})
    prizes_id = cycle.contest_id(cycle.contests[0])
    async with build_worker(client, settings, engine):
        await start_cycle(client, cycle, settings.task_queue, recipients=40)
        parent = client.get_workflow_handle(cycle.cycle_id)
        ocp = client.get_workflow_handle(cycle.ocp_id)

        async def opened() -> ProcessStatus:
            try:
                status = await ocp.query(ProcessWorkflow.status)
            except RPCError as exc:  # the child may not have started yet
                raise AssertionError(exc.message) from None
            assert "phase:I" in status.done
            return status

        status = await assert_eventually(opened)
        assert status.phase == "opening"

        # The contest alone, before its first phase: the cycle and the OCP go on.
        temporal_cancel(dev_env, prizes_id)
        await ended_cancelled(client.get_workflow_handle(prizes_id))
        assert (await parent.describe()).status == WorkflowExecutionStatus.RUNNING
        assert (await ocp.query(ProcessWorkflow.status)).phase == "opening"

        # The whole cycle: the OCP (in its phase I, its form open) is cancelled with it.
        temporal_cancel(dev_env, cycle.cycle_id)
        await ended_cancelled(parent)
        await ended_cancelled(ocp)
        final = await ocp.query(ProcessWorkflow.status)

    assert final.cancelled == CANCELLED_IN_TEMPORAL and final.phase == "cancelled"
    with engine.connect() as conn:
        states = conn.execute(
            sa.select(Window.process_id, Window.state).where(  # type: ignore[call-overload]
                Window.process_id.in_([cycle.ocp_id, prizes_id])  # type: ignore[attr-defined]
            )
        ).all()
    assert len(states) == 4 and {state for _, state in states} == {"cancelled"}
    everyone = len(participants)  # the secretariat is no participant
    for process in (cycle.ocp_id, prizes_id):
        per = mail.per_recipient(f"{process}:cancelled")
        assert len(per) == everyone and set(per.values()) == {1}, process
