"""Secretariat changes to a running cycle, on the time-skipping server.

Plans move every year: a deadline extended, a meeting moved, a contest cancelled. Each change
is a Temporal update with a validator: refused before anything is written, or accepted with
who asked and why in the history, the timer re-armed and the database window moved at once.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from icalendar import Calendar
from sqlalchemy.engine import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.catcher import MailCatcher
from intake.ocp import OcpForm, record_submission
from intake.prizes import ProjectForm, record_project
from intake.votes import Ballot, cast_votes
from intake.windows import Refused
from mail.calendar import meeting_uid
from models.cycle import CycleConfig
from models.cycle_file import load_cycle
from models.moves import map_times, rebased
from models.tables import Window
from models.wire import (
    Cancellation,
    ContestInput,
    DeadlineChange,
    MeetingChange,
    OcpInput,
    ProcessStatus,
    WinnerSelection,
)
from tests.conftest import history_text, record_history
from worker import build_worker
from workflows.ocp import OcpWorkflow
from workflows.prizes import PrizeContestWorkflow
from workflows.process import ProcessWorkflow
from workflows.search_attributes import WSIS_NEXT_DEADLINE, WSIS_PHASE

ROOT = Path(__file__).resolve().parent.parent
GENEVA = ZoneInfo("Europe/Zurich")


async def cycle_2017(env: WorkflowEnvironment) -> CycleConfig:
    """The 2017 cycle on the server's clock, in Geneva local time (real zone offsets)."""
    now = await env.get_current_time()
    moved = rebased(
        load_cycle(ROOT / "cycles" / "2017.toml"), (now + timedelta(hours=1)).replace(microsecond=0)
    )
    return map_times(moved, lambda t: t.astimezone(GENEVA), lambda d: d)


async def at(env: WorkflowEnvironment, when: datetime) -> None:
    current = await env.get_current_time()
    if when > current:
        await env.sleep(when - current)


async def consistent(handle: WorkflowHandle[Any, Any], phase: str) -> ProcessStatus:
    """Status query and search attributes agree on the phase and the next deadline."""
    status = await handle.query(ProcessWorkflow.status)
    sa_ = (await handle.describe()).typed_search_attributes
    assert status.phase == sa_.get(WSIS_PHASE) == phase
    assert sa_.get(WSIS_NEXT_DEADLINE) == status.upcoming[0].at
    return status


async def refused(
    handle: WorkflowHandle[Any, Any], update: Any, arg: Any, engine: Engine, message: str
) -> None:
    """The update is refused with ``message``; history and database stay as they were."""

    def windows() -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(Window.__table__)).all())  # type: ignore[attr-defined]

    before_db = windows()
    before = await handle.fetch_history()
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(update, arg)
    assert message in str(err.value.cause), str(err.value.cause)
    after = await handle.fetch_history()
    # The real server drops the speculative workflow task of a rejected update; the Java
    # time-skipping server records a plain task round instead. Either way nothing else:
    added = {EventType.Name(e.event_type) for e in after.events[len(before.events) :]}
    assert added <= {
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
    }, added
    new_events = WorkflowHistory(after.workflow_id, after.events[len(before.events) :])
    assert "requested_by" not in history_text(new_events)
    assert windows() == before_db


async def test_extend_voting_mid_phase(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    client = skipping_env.client
    contest = (await cycle_2017(skipping_env)).contests[0]
    pid = "wsis-2017-prizes"
    async with build_worker(client, settings, engine, max_cached_workflows=0):
        handle = await client.start_workflow(
            PrizeContestWorkflow.run,
            ContestInput(
                cycle_id="wsis-2017", year=2017, title="WSIS Prizes 2017", contest=contest
            ),
            id=pid,
            task_queue=settings.task_queue,
        )
        await at(skipping_env, contest.submission_opens + timedelta(hours=1))
        await consistent(handle, "submission")
        projects = []
        for i in range(3):
            owner = participants[i]
            project_id, _ = await asyncio.to_thread(
                record_project,
                pid,
                ProjectForm(
                    owner_email=owner["email"],
                    category="C1",
                    title=f"Project {i}",
                    description=" ".join(["w"] * 160),
                    stakeholder_type=owner["stakeholder_type"],
                    country=owner["country"],
                ),
                engine,
                now=contest.submission_opens + timedelta(hours=1),
            )
            projects.append(project_id)
        await at(skipping_env, contest.submission_deadline + timedelta(hours=1))
        await consistent(handle, "nomination")
        await at(skipping_env, contest.voting_opens + timedelta(hours=1))
        await consistent(handle, "public-voting")

        old = contest.voting_closes
        new = old + timedelta(days=3)
        by = {"requested_by": "secretariat", "reason": "more time for the community to vote"}
        # Refused: in the past, out of order (after the Champions' date), unknown deadline.
        await refused(
            handle,
            PrizeContestWorkflow.change_deadline,
            DeadlineChange(deadline="voting", new=contest.voting_opens, **by),
            engine,
            "is in the past",
        )
        await refused(
            handle,
            PrizeContestWorkflow.change_deadline,
            DeadlineChange(deadline="voting", new=contest.ceremony, **by),
            engine,
            "champions_announced",
        )
        await refused(
            handle,
            PrizeContestWorkflow.change_deadline,
            DeadlineChange(deadline="submissions", new=new, **by),
            engine,
            "the submissions deadline has passed",
        )
        await refused(
            handle,
            PrizeContestWorkflow.change_deadline,
            DeadlineChange(deadline="nomination", new=new, **by),
            engine,
            "unknown deadline",
        )
        # Who asks stays in the history for years: no address, however it is written.
        for by_address in ("jane@itu.int", "jane\uff20itu.int"):
            await refused(
                handle,
                PrizeContestWorkflow.change_deadline,
                DeadlineChange(deadline="voting", new=new, requested_by=by_address, reason="x"),
                engine,
                "requested_by contains an e-mail address",
            )

        notice = {"en": "Voting runs three more days.", "fr": "Le vote dure trois jours de plus."}
        status = await handle.execute_update(
            PrizeContestWorkflow.change_deadline,
            DeadlineChange(deadline="voting", new=new, notice=notice, **by),
        )
        assert next(s for s in status.upcoming if s.key == "phase:IV").at == new
        with engine.connect() as conn:
            closes = conn.execute(
                sa.select(Window.closes_at).where(  # type: ignore[call-overload]
                    Window.process_id == pid, Window.kind == "voting"
                )
            ).scalar_one()
        assert closes == new
        await consistent(handle, "public-voting")

        # A vote between the old and the new deadline counts.
        await at(skipping_env, old + timedelta(hours=1))
        assert (await handle.query(PrizeContestWorkflow.status)).phase == "public-voting"
        voter = participants[5]["email"]
        assert cast_votes(
            pid, [Ballot(voter, "C1", projects[1])], engine, now=old + timedelta(hours=1)
        ) == [None]
        with pytest.raises(Refused, match="closed at the deadline"):
            cast_votes(
                pid,
                [Ballot(participants[6]["email"], "C1", projects[1])],
                engine,
                now=new + timedelta(seconds=1),
            )

        # Voting closes at the new time; the shortlist counts the late vote.
        await at(skipping_env, new + timedelta(hours=1))
        status = await consistent(handle, "expert-selection")
        assert abs(status.entered["expert-selection"] - new) < timedelta(seconds=2)
        shortlist = await handle.query(PrizeContestWorkflow.shortlists)
        assert shortlist == {"C1": [projects[1]]}
        await handle.execute_update(
            PrizeContestWorkflow.select_winner,
            WinnerSelection(category="C1", project_ids=[projects[1]], requested_by="expert-group"),
        )
        await handle.result()
        history = await handle.fetch_history()

    # Everyone was told of the new deadline, once.
    per = mail.per_recipient(f"{pid}:deadline-change:1")
    assert len(per) == len(participants) and set(per.values()) == {1}
    # Each reads the public notice in their language, or in English and told so; the
    # internal reason reaches nobody's mail.
    bodies = {
        m.message["Content-Language"]: m.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for m in mail.received
        if m.campaign == f"{pid}:deadline-change:1"
    }
    assert "Voting runs three more days." in bodies["en"] and "has moved" in bodies["en"]
    assert "Le vote dure trois jours de plus." in bodies["fr"]
    assert "Voting runs three more days." in bodies["zh"] and "英文" in bodies["zh"]
    assert not any("more time for the community" in body for body in bodies.values())
    # Who asked and why is in the history; the history replays (see test_replay.py).
    text = history_text(history)
    assert "more time for the community to vote" in text and "secretariat" in text
    assert not any(p["email"] in text or p["name"] in text for p in participants)
    record_history("prizes_2017_voting_extended", history)


async def test_move_meeting_and_cancel(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    client = skipping_env.client
    cycle = await cycle_2017(skipping_env)
    ocp = cycle.ocp
    pid = "wsis-2017-ocp"
    second = ocp.meetings["second"]
    async with build_worker(client, settings, engine, max_cached_workflows=0):
        handle = await client.start_workflow(
            OcpWorkflow.run,
            OcpInput(cycle_id="wsis-2017", year=2017, title="WSIS Forum 2017", ocp=ocp),
            id=pid,
            task_queue=settings.task_queue,
        )
        # The invitation to the second meeting has gone out (14 days ahead).
        await at(skipping_env, second.starts - timedelta(days=13))
        await consistent(handle, "first-meeting")
        by = {"requested_by": "secretariat", "reason": "Room L is being renovated"}
        await refused(
            handle,
            OcpWorkflow.move_meeting,
            MeetingChange(meeting="third", venue="Room A", **by),
            engine,
            "unknown meeting 'third'",
        )
        await refused(
            handle,
            OcpWorkflow.move_meeting,
            MeetingChange(meeting="first", venue="Room A", **by),
            engine,
            "has already begun",
        )
        await refused(
            handle,
            OcpWorkflow.move_meeting,
            MeetingChange(meeting="second", starts=ocp.submission_deadline, **by),
            engine,
            "ends after the submissions deadline",
        )
        # The cycle file's rules for links and venues hold in the validator too.
        await refused(
            handle,
            OcpWorkflow.move_meeting,
            MeetingChange(meeting="second", remote_url="javascript:alert(1)", **by),
            engine,
            "must be an https:// link",
        )
        await refused(
            handle,
            OcpWorkflow.move_meeting,
            MeetingChange(meeting="second", venue="Room A\r\nBCC: x", **by),
            engine,
            "must be a single line",
        )

        new_start = second.starts + timedelta(days=2, hours=3)
        status = await handle.execute_update(
            OcpWorkflow.move_meeting,
            MeetingChange(
                meeting="second", starts=new_start, venue="ITU Headquarters, Room A, Geneva", **by
            ),
        )
        reminder = next(s for s in status.upcoming if s.key == "meeting-reminder:second")
        assert reminder.at == new_start - timedelta(days=1)  # the reminder follows the move
        phase_iii = next(s for s in status.upcoming if s.key == "phase:III")
        assert phase_iii.at == new_start

        # The reminder goes out a day before the new date, with the new details.
        await at(skipping_env, new_start - timedelta(hours=12))
        status = await consistent(handle, "first-meeting")
        assert "meeting-reminder:second" in status.done
        await at(skipping_env, new_start + timedelta(hours=1))
        status = await consistent(handle, "second-meeting")
        assert abs(status.entered["second-meeting"] - new_start) < timedelta(seconds=2)

        # Cancelled with a reason: the form closes now, everyone is told, the run ends.
        record_submission(
            pid,
            OcpForm(
                full_name="A", email="a@example.org", organization="O", country="C", proposal="p"
            ),
            engine,
            now=new_start + timedelta(hours=1),
        )
        await handle.execute_update(
            OcpWorkflow.cancel,
            Cancellation(requested_by="secretariat", reason="the Forum is postponed"),
        )
        final = await handle.result()
    assert final.phase == "cancelled" and final.cancelled == "the Forum is postponed"
    with pytest.raises(Refused, match="cancelled"):
        record_submission(
            pid,
            OcpForm(
                full_name="B", email="b@example.org", organization="O", country="C", proposal="p"
            ),
            engine,
            now=new_start + timedelta(hours=2),
        )

    # The updated invitation: same UID as the first one, SEQUENCE 1, the new time and room.
    def ics(campaign: str) -> Any:
        msg = next(m.message for m in mail.received if m.campaign == campaign)
        part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
        return Calendar.from_ical(str(part.get_content())).walk("VEVENT")[0]

    first, update = ics(f"{pid}:invite:second"), ics(f"{pid}:meeting-update:second:1")
    assert str(first["UID"]) == str(update["UID"]) == meeting_uid(pid, "second")
    assert (int(first["SEQUENCE"]), int(update["SEQUENCE"])) == (0, 1)
    assert update.decoded("DTSTART") == new_start
    assert "Room A" in str(update["LOCATION"])
    everyone = len(participants)  # the secretariat is no participant
    for campaign, audience in (
        (f"{pid}:meeting-update:second:1", everyone),
        (f"{pid}:meeting-reminder:second", everyone),
        (f"{pid}:cancelled", everyone + 1),
    ):  # + the new submitter
        per = mail.per_recipient(campaign)
        assert len(per) == audience and set(per.values()) == {1}, campaign
    # The cancellation's internal reason is in the history, never in anyone's mail.
    assert not any(
        "the Forum is postponed" in m.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for m in mail.received
    )
    reminder_mail = next(
        m.message
        for m in mail.received
        if m.campaign == f"{pid}:meeting-reminder:second" and m.message["Content-Language"] == "en"
    )
    text = reminder_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    local = new_start.astimezone(GENEVA)
    assert "Room A" in text and f"{local.day} {local:%B %Y}" in text
