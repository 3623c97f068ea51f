"""A cancel and a change that race a running campaign tell participants one story.

The opening campaign of an OCP is held inside its first ``DATA`` (a gate in the real aiosmtpd
catcher). A deadline change and a cancel are both accepted while it runs: the cancel stops the
campaign at once, and drops the change's notice (the change applied at once: campaigns run
outside the lock); the mail says "opening" (to some) then "cancelled" (to all), never
"deadline extended". A deadline change alone is applied while the opening is still held, and
its notice follows the opening to everyone.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio.client import WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.catcher import MailCatcher
from models.tables import OutboxMessage, Participant, Window, WindowKind
from models.wire import Cancellation, DeadlineChange, OcpInput, ProcessStatus
from services.changes import submit
from tests.conftest import record_history
from tests.helpers import Gate, Slow, assert_eventually, skip_in_background
from tests.test_changes import cycle_2017
from worker import build_worker
from workflows.ocp import OcpWorkflow

BY = {"requested_by": "secretariat"}


async def test_cancel_and_deadline_change_during_a_campaign_tell_one_story(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    client = skipping_env.client
    ocp = (await cycle_2017(skipping_env)).ocp
    pid = "wsis-2017-race-ocp"
    gate = Gate(mail, f"{pid}:opening")
    everyone = len(participants)  # the secretariat is no participant
    try:
        async with build_worker(client, settings, engine, max_cached_workflows=0):
            handle = await client.start_workflow(
                OcpWorkflow.run,
                OcpInput(cycle_id="wsis-2017-race", year=2017, title="WSIS Forum 2017", ocp=ocp),
                id=pid,
                task_queue=settings.task_queue,
            )
            sleeper = skip_in_background(skipping_env, ocp.opens + timedelta(minutes=1))
            assert await asyncio.to_thread(gate.reached.wait, 180)  # minutes if busy
            change = await handle.start_update(
                OcpWorkflow.change_deadline,
                DeadlineChange(
                    new=ocp.submission_deadline + timedelta(days=7), reason="more time", **BY
                ),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )
            cancel = await handle.start_update(
                OcpWorkflow.cancel,
                Cancellation(reason="the consultation is called off", **BY),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )

            # Both were accepted at once; the campaign is told to stop without waiting.
            async def cancel_has_its_turn() -> None:
                status = await handle.query(OcpWorkflow.status)
                assert status.cancelled == "the consultation is called off"
                assert "cancel" not in status.pending_changes
                assert status.running is None  # the opening step let go of the lock

            await assert_eventually(cancel_has_its_turn)
            gate.open()  # the message held on the wire arrives; the cancel notice follows
            # The change was applied at once (the lock is free while the opening runs); the
            # cancel then dropped its notice, queued behind the opening.
            applied: ProcessStatus = await change.result()
            assert applied.cancelled == "the consultation is called off"
            status: ProcessStatus = await cancel.result()
            assert status.phase == "cancelled" or status.cancelled
            await asyncio.wait_for(sleeper, 120)  # before result() unlocks time skipping too
            await asyncio.wait_for(handle.result(), 60)
            # The campaigns-outside-lock path (a change applied during a campaign, its queued
            # notice dropped by the cancel, the campaign activity cancelled) is replayed by
            # tests/test_replay.py from now on; ocp_2017_cancelled_during_campaign keeps the
            # path before it.
            record_history("ocp_2017_change_dropped_by_cancel", await handle.fetch_history())
    finally:
        gate.open()

    story = _story(mail)
    assert not [c for c in mail.per_recipient() if ":deadline-change:" in c[0]]
    cancelled = mail.per_recipient(f"{pid}:cancelled")
    assert len(cancelled) == everyone and set(cancelled.values()) == {1}
    opening = mail.per_recipient(f"{pid}:opening")
    assert set(opening.values()) == {1} and len(opening) < everyone  # stopped midway
    for events in story.values():  # nobody hears of the opening after the cancel
        assert events[-1] == f"{pid}:cancelled"
    with engine.connect() as conn:
        states: dict[str, int] = dict(
            conn.execute(
                sa.select(OutboxMessage.state, sa.func.count())  # type: ignore[call-overload]
                .where(OutboxMessage.campaign_key == f"{pid}:opening")
                .group_by(OutboxMessage.state)
            ).all()
        )
    assert "sending" not in states  # what was on the wire was settled
    assert states.get("pending", 0) >= everyone - len(opening) - 1  # the rest never sent


async def test_a_deadline_change_during_the_opening_applies_at_once_and_its_notice_follows(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    client = skipping_env.client
    ocp = (await cycle_2017(skipping_env)).ocp
    pid = "wsis-2017-change-ocp"
    new = ocp.submission_deadline + timedelta(days=7)
    gate = Gate(mail, f"{pid}:opening")
    everyone = len(participants)
    try:
        async with build_worker(client, settings, engine, max_cached_workflows=0):
            handle = await client.start_workflow(
                OcpWorkflow.run,
                OcpInput(cycle_id="wsis-2017-change", year=2017, title="WSIS Forum 2017", ocp=ocp),
                id=pid,
                task_queue=settings.task_queue,
            )
            sleeper = skip_in_background(skipping_env, ocp.opens + timedelta(minutes=1))
            assert await asyncio.to_thread(gate.reached.wait, 180)  # minutes if busy
            change = await handle.start_update(
                OcpWorkflow.change_deadline,
                DeadlineChange(new=new, reason="more time", **BY),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )

            async def applied_while_the_opening_runs() -> None:
                assert not gate.released.is_set()
                status = await handle.query(OcpWorkflow.status)
                closing = next(s for s in status.upcoming if s.key == "phase:IV")
                assert closing.at == new  # the plan follows the new deadline
                assert status.running and "announce" in status.running  # the opening step
                assert status.pending_changes == []
                assert _closes_at(engine, pid) == new  # the window row moved too

            await assert_eventually(applied_while_the_opening_runs, within=25)
            assert not mail.per_recipient(f"{pid}:deadline-change:1")  # not before the opening
            gate.open()
            done: ProcessStatus = await change.result()  # once its notice went out
            assert "phase:I" in done.done
            # End the run (quietly): the new path is replayed by tests/test_replay.py.
            await handle.execute_update(
                OcpWorkflow.cancel, Cancellation(reason="test over", notify=False, **BY)
            )
            await asyncio.wait_for(sleeper, 120)  # before result() unlocks time skipping too
            await asyncio.wait_for(handle.result(), 60)
            record_history("ocp_2017_deadline_changed_during_opening", await handle.fetch_history())
    finally:
        gate.open()

    for campaign in ("opening", "deadline-change:1"):
        counts = mail.per_recipient(f"{pid}:{campaign}")
        assert len(counts) == everyone and set(counts.values()) == {1}, campaign
    for events in _story(mail).values():  # each heard of the opening, then of the change
        assert events == [f"{pid}:opening", f"{pid}:deadline-change:1"], events


def _closes_at(engine: Engine, pid: str) -> datetime:
    with engine.connect() as conn:
        closes: datetime = conn.execute(
            sa.select(Window.closes_at).where(  # type: ignore[call-overload]
                Window.process_id == pid, Window.kind == WindowKind.OCP_SUBMISSIONS
            )
        ).scalar_one()
    return closes


def _story(mail: MailCatcher) -> dict[str, list[str]]:
    """Each recipient's campaigns, in the order they arrived."""
    story: dict[str, list[str]] = {}
    for item in list(mail.received):
        for rcpt in item.recipients:
            story.setdefault(rcpt.lower(), []).append(item.campaign)
    return story


def _bulk_audience(engine: Engine, count: int) -> None:
    """``count`` subscribed participants in one executemany (seconds, not minutes)."""
    now = datetime.now(UTC)
    table = Participant.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "email": f"bulk{i}@example.org",
            "name": f"Bulk {i}",
            "stakeholder_type": "Other",
            "language": "en",
            "unsubscribed": False,
            "unsubscribe_legacy": secrets.token_urlsafe(16),
            "verified_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)


async def test_cancel_stops_a_30000_recipient_opening_through_a_slow_server_at_once(
    skipping_env: WorkflowEnvironment, settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    client = skipping_env.client
    audience = 30_000  # at least 5 minutes of sending: the cancel lands mid-campaign
    await asyncio.to_thread(_bulk_audience, engine, audience)
    ocp = (await cycle_2017(skipping_env)).ocp
    pid = "wsis-2017-bulk-cancel-ocp"
    Slow(mail, 0.01)  # at most 100 messages a second: the whole campaign would take minutes
    async with build_worker(client, settings, engine, max_cached_workflows=0):
        handle = await client.start_workflow(
            OcpWorkflow.run,
            OcpInput(cycle_id="wsis-2017-bulk-cancel", year=2017, title="WSIS 2017", ocp=ocp),
            id=pid,
            task_queue=settings.task_queue,
        )
        sleeper = skip_in_background(skipping_env, ocp.opens + timedelta(seconds=1))

        async def campaign_under_way() -> None:
            assert mail.count >= 50

        await assert_eventually(campaign_under_way, within=300)  # every row queued first
        asked = time.monotonic()
        outcome = await submit(
            client,
            pid,
            OcpWorkflow.cancel,
            Cancellation(reason="wrong announcement", notify=False, **BY),
        )
        answered = time.monotonic() - asked
        assert outcome.accepted and outcome.refused is None
        assert answered < 10, f"the cancel command took {answered:.1f} s to answer"
        await asyncio.wait_for(sleeper, 120)  # before result() unlocks time skipping too
        await asyncio.wait_for(handle.result(), 60)  # the process ends: cancelled
        stopped = time.monotonic() - asked
        received = mail.count
        await asyncio.sleep(3)
        assert mail.count == received  # nothing more goes out
    assert received < audience / 2, received
    assert mail.duplicates() == 0
    with engine.connect() as conn:
        states: dict[str, int] = dict(
            conn.execute(
                sa.select(OutboxMessage.state, sa.func.count())  # type: ignore[call-overload]
                .where(OutboxMessage.campaign_key == f"{pid}:opening")
                .group_by(OutboxMessage.state)
            ).all()
        )
    assert "sending" not in states
    assert states["pending"] > audience / 2  # never sent, and never will be
    assert states["sent"] <= received
    print(f"cancel answered in {answered:.2f} s; the process ended {stopped:.2f} s after it")
