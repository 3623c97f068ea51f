"""Secretariat changes racing running steps, and a late retried write, on the time-skipping
server: the workflow and the database must end on the newest change.

A gate in the SMTP catcher holds a campaign inside its first ``DATA`` for as long as a test
needs, so that a change arrives while the campaign runs, every time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from icalendar import Calendar
from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.client import WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment

from activities.windows import WindowActivities
from core.settings import Settings
from devstack.catcher import MailCatcher
from mail.calendar import meeting_uid
from models.tables import OutboxMessage, Window
from models.wire import (
    Audience,
    CampaignRequest,
    ContestInput,
    DeadlineChange,
    MeetingChange,
    MessageKind,
    OcpInput,
    WindowRequest,
)
from tests.helpers import Gate, skip_in_background
from tests.test_changes import at, cycle_2017
from worker import activities_for, build_worker
from workflows.announcement import AnnouncementInput, AnnouncementWorkflow
from workflows.ocp import OcpWorkflow
from workflows.prizes import PrizeContestWorkflow

BY = {"requested_by": "secretariat"}


@pytest.fixture
def gates(mail: MailCatcher) -> Iterator[list[Gate]]:
    made: list[Gate] = []
    yield made
    for gate in made:  # never leave the catcher's loop blocked
        gate.open()


async def test_a_meeting_moved_during_its_invitation_campaign_reaches_every_invitee(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
    gates: list[Gate],
) -> None:
    client = skipping_env.client
    ocp = (await cycle_2017(skipping_env)).ocp
    cycle_id = "wsis-2017-meeting-race"
    pid = f"{cycle_id}-ocp"
    second = ocp.meetings["second"]
    gate = Gate(mail, f"{pid}:invite:second")
    gates.append(gate)
    async with build_worker(client, settings, engine, max_cached_workflows=0):
        handle = await client.start_workflow(
            OcpWorkflow.run,
            OcpInput(cycle_id=cycle_id, year=2017, title="WSIS Forum 2017", ocp=ocp),
            id=pid,
            task_queue=settings.task_queue,
        )
        invite_at = second.starts - ocp.reminders.invitation
        sleeper = skip_in_background(skipping_env, invite_at + timedelta(minutes=1))
        # The invitation campaign is running: its first message is held inside DATA.
        assert await asyncio.to_thread(gate.reached.wait, 180)  # minutes if busy
        new_start = second.starts + timedelta(days=1)
        move = await handle.start_update(
            OcpWorkflow.move_meeting,
            MeetingChange(meeting="second", starts=new_start, reason="room change", **BY),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        gate.open()
        status = await move.result()
        await sleeper
        assert "invite:second" in status.done
        await handle.terminate("test over")

    invitees = mail.per_recipient(f"{pid}:invite:second")
    updated = mail.per_recipient(f"{pid}:meeting-update:second:1")
    assert len(invitees) == len(participants) and set(invitees.values()) == {1}
    # Every invitee holds the new time, once.
    assert {addr for _, addr in updated} == {addr for _, addr in invitees}
    assert set(updated.values()) == {1}

    def event(campaign: str) -> Any:
        msg = next(m.message for m in mail.received if m.campaign == campaign)
        part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
        return Calendar.from_ical(str(part.get_content())).walk("VEVENT")[0]

    invite, update = event(f"{pid}:invite:second"), event(f"{pid}:meeting-update:second:1")
    assert str(invite["UID"]) == str(update["UID"]) == meeting_uid(pid, "second")
    assert (int(invite["SEQUENCE"]), int(update["SEQUENCE"])) == (0, 1)
    assert invite.decoded("DTSTART") == second.starts
    assert update.decoded("DTSTART") == new_start


async def test_overlapping_deadline_changes_end_with_the_later_one_everywhere(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    """The first change's window move fails once and a stray attempt of it lands after the
    second change (a retry that arrives late): the database must keep the second."""
    client = skipping_env.client
    contest = (await cycle_2017(skipping_env)).contests[0]
    cycle_id = "wsis-2017-deadline-race"
    pid = f"{cycle_id}-prizes"
    first = contest.submission_deadline + timedelta(days=2)
    second = contest.submission_deadline + timedelta(days=5)
    windows = WindowActivities(engine)
    stray_done = threading.Event()
    release_stray = threading.Event()

    @activity.defn(name="move_window")
    def late_move_window(request: WindowRequest) -> Any:
        stray = request.closes_at == first and activity.info().attempt == 1
        if stray and request.kind == "project-submissions":
            # This attempt is reported lost, but its write still happens, much later.
            def land_later() -> None:
                release_stray.wait(30)
                windows.move_window(request)
                stray_done.set()

            threading.Thread(target=land_later, daemon=True).start()
            raise RuntimeError("connection to the database lost (the write may still land)")
        return windows.move_window(request)

    faulty = [
        late_move_window if getattr(a, "__name__", "") == "move_window" else a
        for a in activities_for(settings, engine)
    ]
    async with build_worker(client, settings, engine, activities=faulty, max_cached_workflows=0):
        handle = await client.start_workflow(
            PrizeContestWorkflow.run,
            ContestInput(cycle_id=cycle_id, year=2017, title="WSIS Prizes", contest=contest),
            id=pid,
            task_queue=settings.task_queue,
        )
        await at(skipping_env, contest.submission_opens + timedelta(hours=1))
        updates = [
            await handle.start_update(
                PrizeContestWorkflow.change_deadline,
                DeadlineChange(new=new, reason=f"extension to {new:%d %b}", **BY),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )
            for new in (first, second)
        ]
        statuses = [await u.result() for u in updates]
        release_stray.set()
        assert await asyncio.to_thread(stray_done.wait, 30)
        deadline = next(s.at for s in statuses[-1].upcoming if s.key == "phase:II")
        status = await handle.query(PrizeContestWorkflow.status)
        assert next(s.at for s in status.upcoming if s.key == "phase:II") == deadline == second
        await handle.terminate("test over")

    with engine.connect() as conn:
        closes = conn.execute(
            sa.select(Window.closes_at).where(  # type: ignore[call-overload]
                Window.process_id == pid, Window.kind == "project-submissions"
            )
        ).scalar_one()
    assert closes == second
    # Both changes were told, in order, once each.
    for n in (1, 2):
        per = mail.per_recipient(f"{pid}:deadline-change:{n}")
        assert len(per) == len(participants) and set(per.values()) == {1}


async def test_a_campaign_missing_what_its_kind_needs_is_refused_at_once(
    skipping_env: WorkflowEnvironment, settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    client = skipping_env.client
    request = CampaignRequest(
        key="adhoc:opening-without-deadline",
        process_id="adhoc",
        kind=MessageKind.OCP_OPENING,
        audience=Audience.EVERYONE,
        title="WSIS Forum",
        timezone="Europe/Zurich",
    )
    async with build_worker(client, settings, engine):
        handle = await client.start_workflow(
            AnnouncementWorkflow.run,
            AnnouncementInput(request=request),
            id="announcement-incomplete",
            task_queue=settings.task_queue,
        )
        with pytest.raises(Exception) as err:
            await asyncio.wait_for(handle.result(), 20)
        history = await handle.fetch_history()
    assert "needs when" in str(getattr(err.value, "cause", err.value))
    kinds = {e.WhichOneof("attributes") for e in history.events}
    assert "activity_task_scheduled_event_attributes" not in kinds  # nothing was tried
    with engine.connect() as conn:
        assert not conn.execute(sa.select(sa.func.count()).select_from(OutboxMessage)).scalar()
