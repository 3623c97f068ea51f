"""Starting a cycle late: its past actions' state applies, their messages are not sent.

The issue: a cycle whose dates had passed ran every phase in 2 s and mailed 615 stale
messages. Started with --skip-past, a window whose opening passed is open and no announcement
of a past action goes out; the next action in the future sends as usual.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.catcher import MailCatcher
from models.cycle_file import load_cycle
from models.moves import rebased
from models.tables import Window
from services.calendar import past_actions
from services.cycles import start_cycle
from worker import build_worker
from workflows.process import ProcessWorkflow

ROOT = Path(__file__).resolve().parent.parent
_w = Window.__table__  # type: ignore[attr-defined]


async def test_a_late_start_applies_past_state_without_their_messages(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    client = skipping_env.client
    now = (await skipping_env.get_current_time()).replace(microsecond=0)
    # The OCP opened and the contest opened ten days ago; the first invitation is weeks away.
    cycle = rebased(load_cycle(ROOT / "cycles" / "2017.toml"), now - timedelta(days=10))
    past = {(a.process_id, a.key) for a in past_actions(cycle, now)}
    assert past == {("wsis-2017-ocp", "phase:I"), ("wsis-2017-prizes", "phase:I")}
    first = min(cycle.ocp.meetings, key=lambda k: cycle.ocp.meetings[k].starts)
    invite_at = cycle.ocp.meetings[first].starts - cycle.ocp.reminders.invitation
    async with build_worker(client, settings, engine):
        message = await start_cycle(
            client, cycle, settings.task_queue, recipients=30, quiet_before=now
        )
        assert "past actions applied without their messages" in message
        ocp = client.get_workflow_handle(cycle.ocp_id)
        await skipping_env.sleep(timedelta(hours=1))
        status = await ocp.query(ProcessWorkflow.status)
        assert "phase:I" in status.done and status.phase == "opening"
        with engine.connect() as conn:
            states = {
                (pid, kind): state
                for pid, kind, state in conn.execute(
                    sa.select(_w.c.process_id, _w.c.kind, _w.c.state)
                )
            }
        assert states[("wsis-2017-ocp", "ocp-submissions")] == "open"
        assert states[("wsis-2017-prizes", "project-submissions")] == "open"
        assert not mail.received  # nothing of the two past openings

        await skipping_env.sleep(invite_at - now + timedelta(hours=1))
        invited = mail.per_recipient(f"wsis-2017-ocp:invite:{first}")
        await client.get_workflow_handle(cycle.cycle_id).terminate("test over")
    assert len(invited) == len(participants) and set(invited.values()) == {1}
    assert {campaign for campaign, _ in mail.per_recipient()} == {f"wsis-2017-ocp:invite:{first}"}
