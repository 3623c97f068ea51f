"""The sender under injected faults: every pass ends, promptly, with nothing lost or sent twice.

An exception is injected at each stage of a pass (reading a page, composing, the ledger's
commit, connecting, MAIL FROM, RCPT TO, DATA, the heartbeat) and the pass must return or raise
a typed error within seconds (``asyncio.timeout``), leave no row claimed (``sending``), and a
pass without the fault must then deliver the rest: every recipient once, at the real SMTP
server (aiosmtpd on loopback).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import aiosmtplib
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.settings import Settings
from devstack.catcher import MailCatcher
from mail.audience import audience_select
from mail.compose import Composer, Recipient
from mail.outbox import DeliveryDeferred, DeliveryInterrupted, deliver, enqueue
from mail.outbox import connect as connect_module
from mail.outbox import ledger as ledger_module
from mail.outbox import rows as rows_module
from mail.outbox import sender as sender_module
from models.tables import OutboxMessage
from models.wire import CampaignRequest, CampaignResult

from .test_email_delivery import add_people, announcement, subscribed

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
PEOPLE = 40
PATIENCE = 20.0  # seconds: a pass that takes longer is taken as hung


class Injected(RuntimeError):
    """The fault the tests inject."""


def nth(n: int) -> Callable[[], bool]:
    """True on the n-th call only."""
    calls = itertools.count(1)
    return lambda: next(calls) == n


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 8 rows, so that a pass of 40 reads several."""
    monkeypatch.setattr(rows_module, "PAGE_SIZE", 8)
    monkeypatch.setattr(sender_module, "PAGE_SIZE", 8)


@pytest.fixture
def campaign(engine: Engine, settings: Settings, small_pages: None) -> Iterator[CampaignRequest]:
    add_people(engine, PEOPLE)
    request = announcement("a:faults")
    enqueue(request, audience_select(request, settings), engine=engine)
    yield request


def states(engine: Engine, key: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_outbox.c.state, sa.func.count())
            .where(_outbox.c.campaign_key == key)
            .group_by(_outbox.c.state)
        ).all()
    return {state: count for state, count in rows}


async def bounded(
    request: CampaignRequest, settings: Settings, engine: Engine, **kw: Any
) -> CampaignResult:
    async with asyncio.timeout(PATIENCE):
        return await deliver(request, settings, engine=engine, **kw)


async def then_the_rest(
    request: CampaignRequest,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    *,
    failed_but_delivered: int = 0,
) -> CampaignResult:
    """A pass without the fault finishes the campaign; nobody got anything twice."""
    result = await bounded(request, settings, engine)
    assert result.sent + result.failed == result.recipients == len(subscribed(engine))
    per = mail.per_recipient(request.key)
    assert set(per.values()) == {1}, "someone got the message twice"
    assert len(per) == result.sent + failed_but_delivered
    return result


# -- Faults of the pass: it ends with DeliveryInterrupted, the next pass goes on ---------------


async def test_a_page_that_cannot_be_read_interrupts_the_pass(
    campaign: CampaignRequest,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    third = nth(3)
    real = rows_module.read_page

    def read_page(*args: Any) -> Any:
        if third():
            raise Injected("the database went away")
        return real(*args)

    monkeypatch.setattr(sender_module, "read_page", read_page)
    with pytest.raises(DeliveryInterrupted, match="reading the outbox"):
        await bounded(campaign, settings, engine)
    assert "sending" not in states(engine, campaign.key)
    assert 0 < mail.count < PEOPLE + 1
    monkeypatch.setattr(sender_module, "read_page", real)
    await then_the_rest(campaign, settings, engine, mail)


async def test_a_failed_commit_interrupts_the_pass_and_loses_no_mark(
    campaign: CampaignRequest,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fifth = nth(5)
    real = ledger_module.Ledger._apply

    def apply(self: Any, *args: Any, **kw: Any) -> Any:
        if fifth():
            raise Injected("disk I/O error")
        return real(self, *args, **kw)

    monkeypatch.setattr(ledger_module.Ledger, "_apply", apply)
    with pytest.raises(DeliveryInterrupted, match="writing the outbox"):
        await bounded(campaign, settings, engine)
    # The marks of the failed group were committed when the ledger closed: every message the
    # server has is marked sent, none is left claimed.
    after = states(engine, campaign.key)
    assert "sending" not in after and after.get("sent", 0) == mail.count
    await then_the_rest(campaign, settings, engine, mail)


async def test_a_failing_heartbeat_interrupts_the_pass(
    campaign: CampaignRequest, settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    slow = settings.model_copy(update={"smtp_rate_per_second": 40})  # a second or so

    def heartbeat(details: dict[str, Any]) -> None:
        raise Injected("heartbeat failed")

    with pytest.raises(DeliveryInterrupted, match="heartbeat"):
        await bounded(campaign, slow, engine, heartbeat=heartbeat, heartbeat_every=0.2)
    assert "sending" not in states(engine, campaign.key)
    assert mail.count < PEOPLE + 1
    await then_the_rest(campaign, settings, engine, mail)


async def test_a_bug_while_connecting_interrupts_the_pass(
    campaign: CampaignRequest,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    second = nth(2)
    real = connect_module.open_connection

    async def open_connection(settings: Settings, tls: Any) -> aiosmtplib.SMTP:
        if second():
            raise Injected("not an SMTP error")
        return await real(settings, tls)

    monkeypatch.setattr(sender_module, "open_connection", open_connection)
    with pytest.raises(DeliveryInterrupted, match="Injected"):
        await bounded(campaign, settings, engine)
    assert "sending" not in states(engine, campaign.key)
    monkeypatch.setattr(sender_module, "open_connection", real)
    await then_the_rest(campaign, settings, engine, mail)


# -- Faults of one message: that row fails alone, the pass finishes ---------------------------


async def test_a_message_that_cannot_be_composed_fails_alone(
    campaign: CampaignRequest,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = Composer.message_bytes

    def message_bytes(self: Composer, recipient: Recipient, **kw: Any) -> bytes:
        if recipient.email == "participant7@example.org":
            raise UnicodeEncodeError("ascii", "participant7@example.org", 0, 1, "injected")
        return real(self, recipient, **kw)

    monkeypatch.setattr(Composer, "message_bytes", message_bytes)
    result = await bounded(campaign, settings, engine)
    assert result.failed == 1 and result.sent == result.recipients - 1
    with engine.connect() as conn:
        error = conn.execute(
            sa.select(_outbox.c.error).where(_outbox.c.state == "failed")
        ).scalar_one()
    assert "could not be composed" in error and "participant7" not in error
    await then_the_rest(campaign, settings, engine, mail)


@pytest.mark.parametrize("command", [b"MAIL", b"RCPT"])
async def test_an_unexpected_error_in_the_envelope_fails_that_message_alone(
    command: bytes,
    campaign: CampaignRequest,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenth = nth(10)
    real = aiosmtplib.SMTP.execute_command

    async def execute_command(self: aiosmtplib.SMTP, *args: bytes, **kw: Any) -> Any:
        if args[0] == command and tenth():
            raise Injected(f"{command.decode()} broke")
        return await real(self, *args, **kw)

    monkeypatch.setattr(aiosmtplib.SMTP, "execute_command", execute_command)
    result = await bounded(campaign, settings, engine)
    assert result.failed == 1 and result.sent == result.recipients - 1
    assert states(engine, campaign.key) == {"sent": result.sent, "failed": 1}
    await then_the_rest(campaign, settings, engine, mail)


@pytest.mark.parametrize("after_sending", [False, True])
async def test_an_unexpected_error_in_data_fails_that_message_and_never_resends_it(
    after_sending: bool,
    campaign: CampaignRequest,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenth = nth(10)
    real = aiosmtplib.SMTP.data

    async def data(self: aiosmtplib.SMTP, message: Any, **kw: Any) -> Any:
        if not tenth():
            return await real(self, message, **kw)
        if after_sending:  # the server has it; our side breaks before it knows
            await real(self, message, **kw)
        raise Injected("DATA broke")

    monkeypatch.setattr(aiosmtplib.SMTP, "data", data)
    result = await bounded(campaign, settings, engine)
    # Its content may have reached the server: failed and flagged ambiguous, never resent.
    assert (result.failed, result.ambiguous) == (1, 1)
    assert mail.count == result.sent + (1 if after_sending else 0)
    final = await then_the_rest(
        campaign, settings, engine, mail, failed_but_delivered=int(after_sending)
    )
    assert final.failed == 1


# -- Cancellation ------------------------------------------------------------------------------


async def test_a_cancelled_pass_gives_its_rows_back(
    campaign: CampaignRequest, settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    slow = settings.model_copy(update={"smtp_rate_per_second": 20})
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.8):
            await deliver(campaign, slow, engine=engine)
    after = states(engine, campaign.key)
    assert "sending" not in after and 0 < after.get("sent", 0) < PEOPLE
    result = await bounded(campaign, settings, engine)
    assert result.sent == result.recipients
    # A message cut off in DATA may arrive twice; no other can.
    assert mail.duplicates() <= result.ambiguous <= settings.smtp_connections


async def test_a_cancellation_swallowed_by_a_library_still_ends_the_pass(
    campaign: CampaignRequest,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python 3.11's ``wait_for`` can return the inner result instead of raising when it is
    cancelled as the inner call finishes; a connection must still stop."""
    real = aiosmtplib.SMTP.execute_command

    async def execute_command(self: aiosmtplib.SMTP, *args: bytes, **kw: Any) -> Any:
        task = asyncio.current_task()
        assert task is not None
        try:
            return await real(self, *args, **kw)
        except asyncio.CancelledError:
            if task.cancelling():  # swallow it, as the buggy library would
                return aiosmtplib.SMTPResponse(250, "OK")
            raise

    monkeypatch.setattr(aiosmtplib.SMTP, "execute_command", execute_command)
    slow = settings.model_copy(update={"smtp_rate_per_second": 20})
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.8):
            await deliver(campaign, slow, engine=engine)
    assert asyncio.get_running_loop().time() - started < 5
    monkeypatch.setattr(aiosmtplib.SMTP, "execute_command", real)
    assert "sending" not in states(engine, campaign.key)
    result = await bounded(campaign, settings, engine)
    assert result.sent == result.recipients


async def test_an_unreachable_server_defers_within_the_patience(
    campaign: CampaignRequest, settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    mail.down()
    with pytest.raises(DeliveryDeferred, match="unreachable"):
        await bounded(campaign, settings, engine, connect_patience=1.0)
    mail.up()
    await then_the_rest(campaign, settings, engine, mail)
