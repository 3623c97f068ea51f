"""The inbound test stack: the inbound server, a recording catcher, real campaigns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from core.settings import Settings
from mail.audience import audience_select
from mail.inbound.server import InboundServer
from mail.outbox import deliver, enqueue
from models.wire import Audience, CampaignRequest, MessageKind

from ..conftest import free_port
from .kit import Got, Recorder

BOUNCE_DOMAIN = "bounces.itu.int"
OCP_ADDRESS = "wsis-ocp@itu.int"


@dataclass
class Stack:
    settings: Settings
    engine: Engine
    recorder: Recorder
    server: InboundServer


def inbound_settings(db_url: str, recorder: Recorder, **kw: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "smtp_host": "127.0.0.1",
        "smtp_port": recorder.port,
        "smtp_connections": 2,
        "bounce_domain": BOUNCE_DOMAIN,
        "ocp_address": OCP_ADDRESS,
        "portal_secret": SecretStr("inbound-test-secret-0123456789abcdef"),
        "portal_url": "http://portal.test",
        "inbound_port": free_port(),
        **kw,
    }
    return Settings.model_validate(values)


@asynccontextmanager
async def inbound_stack(db_url: str, engine: Engine, **kw: object) -> AsyncIterator[Stack]:
    """The inbound server and a recording catcher (where all outbound mail goes)."""
    recorder = Recorder(free_port()).start()
    settings = inbound_settings(db_url, recorder, **kw)
    server = await InboundServer(settings, engine, sweep_every=3600).start()
    try:
        yield Stack(settings, engine, recorder, server)
    finally:
        await server.stop()
        recorder.stop()


def announcement(key: str) -> CampaignRequest:
    return CampaignRequest(
        key=key,
        process_id="wsis-2027-ocp",
        kind=MessageKind.OCP_OPENING,
        audience=Audience.EVERYONE,
        title="WSIS Forum 2027",
        timezone="Europe/Zurich",
        when=datetime(2027, 1, 31, 22, 59, tzinfo=UTC),
    )


async def announce(stack: Stack, key: str) -> dict[str, Got]:
    """Send a real campaign to everyone subscribed; what arrived, by recipient address."""
    request = announcement(key)
    enqueue(request, audience_select(request, stack.settings), engine=stack.engine)
    await deliver(request, stack.settings, engine=stack.engine)
    got = [g for g in stack.recorder.got if g.message["X-WSIS-Campaign"] == key]
    by_rcpt = {g.rcpt[0]: g for g in got}
    assert len(by_rcpt) == len(got)  # nobody twice
    return by_rcpt
