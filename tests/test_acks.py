"""An acknowledgement says what happened to it: sent, refused for good, or queued."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.db import create_db_engine
from core.settings import Settings
from devstack.catcher import MailCatcher
from intake.acks import AckOutcome, send_ack
from mail.audience import audience_select
from mail.outbox import campaign_counts, enqueue
from models.tables import Participant
from models.wire import Audience, CampaignRequest, MessageKind

from .test_email_delivery import add_people

_p = Participant.__table__  # type: ignore[attr-defined]


def ack_for(engine: Engine, settings: Settings, address: str, ref: str) -> CampaignRequest:
    with engine.connect() as conn:
        pid = conn.execute(sa.select(_p.c.id).where(_p.c.email == address)).scalar_one()
    request = CampaignRequest(
        key=f"p:{ref}",
        process_id="p",
        kind=MessageKind.OCP_SUBMISSION_ACK,
        audience=Audience.ONE_PARTICIPANT,
        participant_id=pid,
        title="WSIS Forum 2027",
        timezone="Europe/Zurich",
    )
    enqueue(request, audience_select(request, settings), engine=engine)
    return request


async def test_send_ack_reports_sent_refused_and_queued(
    settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    emails = add_people(engine, 3)
    mail.faults.refuse[emails[1]] = (550, "5.1.1 No such user")

    sent = ack_for(engine, settings, emails[0], "ack:1")
    assert await send_ack(sent, engine, settings) is AckOutcome.SENT

    # A permanent bounce is not "acknowledged": the outbox has it as failed.
    refused = ack_for(engine, settings, emails[1], "ack:2")
    assert await send_ack(refused, engine, settings) is AckOutcome.REFUSED
    assert campaign_counts("p:ack:2", engine=engine).failed == 1

    mail.down()
    queued = ack_for(engine, settings, emails[2], "ack:3")
    assert await send_ack(queued, engine, settings) is AckOutcome.QUEUED
    assert campaign_counts("p:ack:3", engine=engine).sent == 0  # still pending
    mail.up()
    assert await send_ack(queued, engine, settings) is AckOutcome.SENT
    assert AckOutcome.SENT.summary == "acknowledged"


async def test_a_refusal_of_the_campaign_leaves_the_ack_queued(
    settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    emails = add_people(engine, 1)
    mail.faults.refuse[emails[0]] = (554, "5.7.1 Relay access denied")
    request = ack_for(engine, settings, emails[0], "ack:9")
    assert await send_ack(request, engine, settings) is AckOutcome.QUEUED


async def test_many_acknowledgements_at_once_share_a_small_pool_without_a_deadlock(
    settings: Settings, db_url: str, mail: MailCatcher
) -> None:
    """Forty receipts sent at once in one event loop through a pool of two connections: each
    waits for a connection in a thread, never on the loop (where the connections it waits for
    could never be given back). This hung the demo's voting phase."""
    import asyncio

    small = create_db_engine(db_url, pool_size=2, max_overflow=0, pool_timeout=60)
    emails = add_people(small, 40)
    requests = [ack_for(small, settings, address, f"ack:{i}") for i, address in enumerate(emails)]
    async with asyncio.timeout(60):
        outcomes = await asyncio.gather(*(send_ack(r, small, settings) for r in requests))
    assert outcomes == [AckOutcome.SENT] * 40
    assert mail.count == 40
    small.dispose()
