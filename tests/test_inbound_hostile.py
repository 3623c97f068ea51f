"""Hostile inbound mail: each refused or answered once, nothing stored twice, the service
still answering. Real inbound server on loopback, real SMTP clients."""

from __future__ import annotations

import asyncio
import io
import time
import zipfile
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.tables import InboundMessage
from tests.helpers import assert_eventually

from .inbound import samples
from .inbound.kit import plain, rogue_responder, send
from .inbound.stack import BOUNCE_DOMAIN, OCP_ADDRESS, Stack, announce, inbound_stack

_in = InboundMessage.__table__  # type: ignore[attr-defined]


@pytest_asyncio.fixture
async def stack(
    db_url: str, engine: Engine, participants: list[dict[str, str]]
) -> AsyncIterator[Stack]:
    async with inbound_stack(db_url, engine) as running:
        yield running


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(_in)).scalar_one())


async def still_answering(stack: Stack) -> None:
    """A good bounce after the hostile one is stored and processed."""
    before = stored(stack.engine)
    raw = samples.delayed("wsis-bounces@" + BOUNCE_DOMAIN, "someone@example.com")
    reply = await send(stack.server.port, raw, "", ["wsis-bounces@" + BOUNCE_DOMAIN])
    assert reply.code == 250
    await stack.server.drain()
    assert stored(stack.engine) == before + 1


async def refused(stack: Stack, raw: bytes) -> aiosmtplib.SMTPResponseException:
    with pytest.raises(aiosmtplib.SMTPResponseException) as caught:
        await send(stack.server.port, raw, "x@example.org", [OCP_ADDRESS])
    return caught.value


async def test_ten_megabytes_are_refused_with_552(stack: Stack) -> None:
    big = plain("x@example.org", OCP_ADDRESS, "big", "A") + (b"B" * 76 + b"\r\n") * 131_000
    error = await refused(stack, big)
    assert error.code == 552
    assert stored(stack.engine) == 0
    await still_answering(stack)


NESTED = b"From: x@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n" + b"".join(
    f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode() for i in range(40)
)


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        (b"this is not a message at all", 550, b"no header section"),
        (
            b"From: \xe9t\xe9@example.org\r\nSubject: \xff\xfe\r\n\r\nLatin-1 headers.\r\n",
            550,
            b"Undecodable",
        ),
        (
            b"From: x@example.org\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="never"\r\n\r\nno boundary here\r\n',
            550,
            b"Malformed MIME",
        ),
        (b"Subject: no sender\r\n\r\nbody\r\n", 550, b"no From"),
        (NESTED, 552, b"too deep"),
    ],
    ids=["no-headers", "undecodable", "broken-multipart", "no-from", "nested"],
)
async def test_malformed_mail_gets_a_clear_5xx(
    stack: Stack, raw: bytes, code: int, words: bytes
) -> None:
    error = await refused(stack, raw)
    assert error.code == code and words.decode() in error.message
    assert stored(stack.engine) == 0
    await still_answering(stack)


def zip_bomb() -> bytes:
    """100 MB of zeros in a zip of about 100 kB (never opened by the service)."""
    out = io.BytesIO()
    block = b"\0" * 1_000_000
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("submission.txt", "w") as member,
    ):
        for _ in range(100):
            member.write(block)
    return out.getvalue()


async def test_a_zip_bomb_is_refused_politely_once_and_stored_once(stack: Stack) -> None:
    first = await announce(stack, "wsis-2027-ocp:opening")
    person = "participant2@example.org"
    reply_to = str(first[person].message["Reply-To"])
    stack.recorder.clear()
    msg = EmailMessage()
    msg["From"] = person
    msg["To"] = reply_to
    msg["Subject"] = "Re: WSIS Forum 2027"
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content("My submission is attached.")
    bomb = zip_bomb()
    assert len(bomb) < 200_000
    msg.add_attachment(bomb, maintype="application", subtype="zip", filename="submission.zip")
    raw = msg.as_bytes()
    started = time.monotonic()
    for _ in range(3):  # a retrying MTA: the same message three times
        assert (await send(stack.server.port, raw, person, [reply_to])).code == 250
    await stack.server.drain()
    assert time.monotonic() - started < 20  # the archive was never inflated
    assert stored(stack.engine) == 1
    [answer] = stack.recorder.to(person)
    body = answer.message.get_body(("plain",))
    assert body is not None and "attachments cannot be accepted" in body.get_content()
    await still_answering(stack)


async def test_a_thousand_recipients_are_cut_at_the_limit_and_stored_once(stack: Stack) -> None:
    rcpt = [f"wsis-bounces+junk{i}@{BOUNCE_DOMAIN}" for i in range(1000)]
    refused_count = 0
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=stack.server.port) as smtp:
        await smtp.mail("")
        for address in rcpt:
            answer = await smtp.execute_command(b"RCPT", b"TO:<" + address.encode() + b">")
            refused_count += answer.code == 452
        raw = samples.gmail(rcpt[0], "gone@example.com")
        assert (await smtp.data(raw)).code == 250
    assert refused_count == 1000 - stack.settings.inbound_max_recipients
    await stack.server.drain()
    assert stored(stack.engine) == 1
    with stack.engine.connect() as conn:
        assert conn.execute(sa.select(_in.c.outcome)).scalar() == "bounce-unmatched"
    await still_answering(stack)


async def test_two_auto_responders_do_not_loop(stack: Stack) -> None:
    robot = "robot@example.org"  # answers everything, without Auto-Submitted (RFC 3834 ignored)
    stack.recorder.on_message = rogue_responder(stack.server.port, robot, OCP_ADDRESS)
    first = plain(robot, OCP_ADDRESS, "Hello", "I am a robot.")
    await send(stack.server.port, first, robot, [OCP_ADDRESS])

    async def answered_back() -> None:  # the robot's answer to our answer arrives in seconds
        assert stored(stack.engine) >= 2

    await assert_eventually(answered_back)
    await stack.server.drain()
    await asyncio.sleep(1.0)  # time for a loop to show itself
    await stack.server.drain()
    assert len(stack.recorder.to(robot)) == 1  # answered once
    assert stored(stack.engine) == 2  # its first message and its one answer to our answer
    with stack.engine.connect() as conn:
        outcomes = [r[0] for r in conn.execute(sa.select(_in.c.outcome).order_by(_in.c.id))]
    assert outcomes == ["answered-unverifiable", "answered-unverifiable-not-again"]
    [ours] = stack.recorder.to(robot)
    assert ours.message["Auto-Submitted"] == "auto-replied" and ours.mail_from == "<>"
    await still_answering(stack)
