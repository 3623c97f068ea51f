"""Deferred one-person mail is retried on its own schedule, whatever the windows do.

An acknowledgement and a vote receipt are deferred by an SMTP outage (the real aiosmtpd
catcher taken down); the retry loop (mail/outbox/retry.py, which every worker runs) sends both
soon after the server is back, while every window is still open and no workflow runs at all.
A sender killed with ``kill -9`` in the middle of a message loses nothing and duplicates
nothing but that one message, which is recorded as ambiguous.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from activities.windows import WindowActivities
from core.settings import Settings
from devstack.catcher import MailCatcher
from intake.acks import AckOutcome, send_ack
from intake.casting import Evidence, cast_ballot
from mail.outbox.retry import GIVEN_UP, DeferredMail, Schedule, retry_deferred_mail
from models.tables import Campaign, OutboxMessage, Participant, Project, WindowKind
from models.window_rules import WindowRules
from models.wire import WindowRequest
from reports.status import counts_for
from tests.helpers import Gate, assert_eventually
from tests.test_acks import ack_for

ROOT = Path(__file__).resolve().parent.parent
FAST = Schedule(
    first=timedelta(seconds=0.5),
    longest=timedelta(seconds=2),
    leave_to_intake=timedelta(0),
    tick=0.2,
)
_project = Project.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_campaign = Campaign.__table__  # type: ignore[attr-defined]
_people = Participant.__table__  # type: ignore[attr-defined]


def voting_window(engine: Engine, process_id: str) -> int:
    """A voting window open now for a month, with one nominated project in C1."""
    now = datetime.now(UTC)
    WindowActivities(engine).open_window(
        WindowRequest(
            process_id=process_id,
            kind=WindowKind.VOTING.value,
            title="WSIS Prizes",
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=30),
            timezone="Europe/Zurich",
            rules=WindowRules(categories=["C1"], category_names={"C1": "C1"}),
        )
    )
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.insert(_project).values(
                    process_id=process_id, category="C1", title="A project", title_key="a",
                    description="x", owner_id=1, stakeholder_type="Academia", country="Chile",
                    submitted_at=now, status="nominated",
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )  # fmt: skip


async def test_an_ack_and_a_receipt_deferred_by_an_outage_arrive_soon_after_it(
    settings: Settings, engine: Engine, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    process_id = "wsis-2030-prizes"
    project = voting_window(engine, process_id)
    mail.down()
    ack = ack_for(engine, settings, participants[0]["email"], "ack:1")
    assert await send_ack(ack, engine, settings) is AckOutcome.QUEUED
    with engine.connect() as conn:
        voter = conn.execute(
            sa.select(_people.c.id).where(_people.c.email == participants[1]["email"])
        ).scalar_one()
    receipt = await asyncio.to_thread(
        cast_ballot, process_id, voter, {"C1": project}, Evidence(), engine
    )
    assert receipt.acknowledgement is not None
    assert await send_ack(receipt.acknowledgement, engine, settings) is AckOutcome.QUEUED

    stop = asyncio.Event()
    loop = asyncio.create_task(retry_deferred_mail(settings, engine, stop, schedule=FAST))
    try:
        await asyncio.sleep(2)  # a few passes meet the outage
        assert mail.count == 0
        mail.up()
        controller = mail._controller
        assert controller is not None
        opened = controller.factory
        connections: list[int] = []

        def counted() -> Any:
            connections.append(1)
            return opened()

        controller.factory = counted  # type: ignore[method-assign]

        async def both_arrived() -> None:
            kinds = sorted(m.campaign.split(":")[-2] for m in list(mail.received))
            assert kinds == ["ack", "receipt"], kinds

        await assert_eventually(both_arrived, within=60)
        await asyncio.sleep(1)  # and nothing more
    finally:
        stop.set()
        await loop
    assert mail.count == 2 and mail.duplicates() == 0
    assert len(connections) == 1  # one pass, one connection, every message due
    assert {r for m in mail.received for r in m.recipients} == {
        participants[0]["email"],
        participants[1]["email"],
    }
    assert counts_for(process_id, engine)["emails waiting"] == 0


async def test_a_message_deferred_for_three_days_is_given_up_and_counted(
    settings: Settings, engine: Engine, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    request = ack_for(engine, settings, participants[0]["email"], "ack:old")
    with engine.begin() as conn:
        conn.execute(
            _campaign.update()
            .where(_campaign.c.key == request.key)
            .values(created_at=datetime.now(UTC) - timedelta(days=3, minutes=1))
        )
    result = await DeferredMail(settings, engine, FAST).run_pass()
    assert result.given_up == 1 and mail.count == 0
    with engine.connect() as conn:
        error = conn.execute(
            sa.select(_outbox.c.error).where(_outbox.c.campaign_key == request.key)
        ).scalar_one()
    assert error == GIVEN_UP
    assert counts_for("p", engine)["emails failed"] == 1


SENDER = """
import asyncio, sys
from datetime import timedelta
from core.db import create_db_engine
from core.settings import Settings
from mail.outbox.retry import DeferredMail, Schedule
settings = Settings(database_url=sys.argv[1], smtp_host="127.0.0.1", smtp_port=int(sys.argv[2]))
schedule = Schedule(leave_to_intake=timedelta(0))
asyncio.run(DeferredMail(settings, create_db_engine(sys.argv[1]), schedule).run_pass())
"""


async def test_kill_9_during_a_retry_loses_nothing_and_duplicates_only_the_ambiguous(
    settings: Settings,
    engine: Engine,
    db_url: str,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    requests = [
        ack_for(engine, settings, p["email"], f"ack:{i}") for i, p in enumerate(participants[:5])
    ]
    held = Gate(mail, requests[2].key)  # the third message is held inside DATA
    child = subprocess.Popen(  # noqa: ASYNC220 (killed below, never awaited)
        [sys.executable, "-c", SENDER, db_url, str(mail.port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert await asyncio.to_thread(held.reached.wait, 60)
        os.kill(child.pid, signal.SIGKILL)  # the worker dies mid-message
        await asyncio.to_thread(child.wait, 10)
    finally:
        held.open()
    with engine.begin() as conn:
        states: dict[str, str] = dict(
            conn.execute(sa.select(_outbox.c.campaign_key, _outbox.c.state)).all()
        )
        assert states[requests[2].key] == "sending"  # in doubt: the server may have it
        # Later than STALE_AFTER: the next pass may take the row over.
        conn.execute(
            _outbox.update()
            .where(_outbox.c.state == "sending")
            .values(sent_at=datetime.now(UTC) - timedelta(minutes=10))
        )
    await DeferredMail(settings, engine, FAST).run_pass()
    per = mail.per_recipient()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_outbox.c.campaign_key, _outbox.c.state, _outbox.c.ambiguous)
        ).all()
    assert {r.state for r in rows} == {"sent"}  # nothing lost
    ambiguous = {r.campaign_key for r in rows if r.ambiguous}
    assert ambiguous == {requests[2].key}
    twice = [addr for (_, addr), n in per.items() if n > 1]
    assert twice in ([], [participants[2]["email"]])  # only the one in doubt, at most
    assert len(per) == 5
