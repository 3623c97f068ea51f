"""Official OCP submissions by e-mail, through the real inbound server and intake.

A reply to the OCP opening announcement (its per-recipient signed Reply-To) becomes a
submission, acknowledged by e-mail with a link to the portal; a message to the OCP address
becomes one only with a DKIM signature aligned with its From domain; a forged sender, an
attachment, a closed window get one clear answer, and a second message from the same sender
no second answer. Outbound mail is DKIM-signed when a key is configured.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import dkim
import pytest_asyncio
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.engine import Engine

from core.settings import Settings
from mail.inbound.answers import claim_answer
from models.tables import InboundMessage, OcpSubmission, Window, WindowKind, WindowState

from .inbound.kit import plain, send
from .inbound.stack import OCP_ADDRESS, Stack, announce, inbound_stack

_ocp = OcpSubmission.__table__  # type: ignore[attr-defined]
_window = Window.__table__  # type: ignore[attr-defined]
_in = InboundMessage.__table__  # type: ignore[attr-defined]
PROCESS = "wsis-2027-ocp"


def rsa_key() -> tuple[bytes, bytes]:
    """A private key (PEM) and its DKIM public key record."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


SENDER_KEY, SENDER_RECORD = rsa_key()  # example.org's key: participants write from there
DNS = {b"s1._domainkey.example.org.": SENDER_RECORD}


def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
    return DNS.get(name)


def open_window(engine: Engine, *, closes_in: timedelta = timedelta(days=30)) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            _window.insert().values(
                process_id=PROCESS,
                title="WSIS Forum 2027",
                kind=WindowKind.OCP_SUBMISSIONS.value,
                opens_at=now - timedelta(days=1),
                closes_at=now + closes_in,
                timezone="Europe/Zurich",
                state=WindowState.OPEN.value,
                rules_json="{}",
                revision=0,
            )
        )


@pytest_asyncio.fixture
async def stack(
    db_url: str, engine: Engine, participants: list[dict[str, str]]
) -> AsyncIterator[Stack]:
    open_window(engine)
    async with inbound_stack(db_url, engine) as running:
        running.server.routes.dnsfunc = dnsfunc
        yield running


def proposals(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_ocp.c.participant_id, _ocp.c.proposal).order_by(_ocp.c.id))
        return [(int(r[0]), str(r[1])) for r in rows]


def outcomes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(sa.select(_in.c.outcome).order_by(_in.c.id))]


REPLY = """I propose a session on community networks, with remote participation.

Second paragraph of my proposal.

--
Ana Example
Example Org

On Mon, 1 Mar 2027 at 10:00, WSIS Secretariat <wsis-info@itu.int> wrote:
> Dear participant,
> the open consultation is open.
"""
OWN_WORDS = (
    "I propose a session on community networks, with remote participation.\n\n"
    "Second paragraph of my proposal."
)


async def test_a_reply_to_the_announcement_becomes_an_acknowledged_submission(
    stack: Stack,
) -> None:
    first = await announce(stack, f"{PROCESS}:opening")
    person = "participant3@example.org"
    reply_to = str(first[person].message["Reply-To"])
    assert reply_to.startswith("wsis-ocp+r") and reply_to.endswith("@itu.int")
    assert "participant3" not in reply_to
    # Every recipient has their own Reply-To.
    assert len({str(g.message["Reply-To"]) for g in first.values()}) == len(first)
    stack.recorder.clear()

    reply = plain(person, reply_to, "Re: WSIS Forum 2027", REPLY)
    assert (await send(stack.server.port, reply, person, [reply_to])).code == 250
    await send(stack.server.port, reply, person, [reply_to])  # delivered twice: taken once
    await stack.server.drain()

    [(participant, proposal)] = proposals(stack.engine)
    assert proposal == OWN_WORDS  # quoted text and signature stripped
    with stack.engine.connect() as conn:
        owner = conn.execute(
            sa.text("SELECT email FROM participant WHERE id = :i"), {"i": participant}
        )
        assert owner.scalar() == person
    [ack] = stack.recorder.to(person)
    text = ack.message.get_body(preferencelist=("plain",))
    assert text is not None
    assert "http://portal.test/my" in str(text.get_content())
    assert outcomes(stack.engine) == ["submission"]

    # Someone else cannot reuse the token with another participant's number.
    local, _, domain = reply_to.partition("@")
    altered = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + domain
    forged = plain("mallory@example.net", altered, "Re: WSIS", "Spam proposal.")
    await send(stack.server.port, forged, "mallory@example.net", [altered])
    await stack.server.drain()
    assert len(proposals(stack.engine)) == 1
    [answer] = stack.recorder.to("mallory@example.net")
    assert answer.mail_from == "<>"  # the null sender: a bounce of it never comes back
    assert answer.message["Auto-Submitted"] == "auto-replied"


def signed(
    sender: str, body: str, *, domain: bytes = b"example.org", key: bytes = SENDER_KEY
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = OCP_ADDRESS
    msg["Subject"] = "My official submission"
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg["Date"] = "Mon, 1 Mar 2027 10:00:00 +0000"
    msg.set_content(body)
    data = msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    signature: bytes = dkim.sign(
        data, b"s1", domain, key, include_headers=[b"from", b"to", b"subject", b"message-id"]
    )
    return signature + data


async def test_the_ocp_address_takes_dkim_aligned_mail_and_answers_forgeries_once(
    stack: Stack,
) -> None:
    port = stack.server.port
    person = "participant4@example.org"
    await send(port, signed(person, "Sessions in Arabic and French."), person, [OCP_ADDRESS])
    # Forged: the same From without a signature, then with a signature of another domain.
    victim = "participant5@example.org"
    await send(port, plain(victim, OCP_ADDRESS, "Submission", "Forged."), victim, [OCP_ADDRESS])
    other_key, other_record = rsa_key()
    DNS[b"s1._domainkey.attacker.example."] = other_record
    forged = signed(victim, "Forged again.", domain=b"attacker.example", key=other_key)
    await send(port, forged, victim, [OCP_ADDRESS])
    await stack.server.drain()

    assert [p for _, p in proposals(stack.engine)] == ["Sessions in Arabic and French."]
    assert outcomes(stack.engine) == [
        "submission",
        "answered-unverifiable",
        "answered-unverifiable-not-again",  # one answer per sender per period
    ]
    [answer] = stack.recorder.to(victim)
    body = answer.message.get_body(preferencelist=("plain",))
    assert body is not None and "could not verify" in body.get_content()


async def test_attachments_and_a_closed_window_get_one_clear_answer(stack: Stack) -> None:
    port = stack.server.port
    person = "participant6@example.org"
    msg = EmailMessage()
    msg["From"] = person
    msg["To"] = OCP_ADDRESS
    msg["Subject"] = "Submission attached"
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content("Please find my submission attached.")
    msg.add_attachment(b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="s.pdf")
    data = msg.as_bytes()
    signature = dkim.sign(
        data, b"s1", b"example.org", SENDER_KEY, include_headers=[b"from", b"subject"]
    )
    await send(port, signature + data, person, [OCP_ADDRESS])
    await stack.server.drain()
    assert proposals(stack.engine) == []
    [answer] = stack.recorder.to(person)
    assert "attachments cannot be accepted" in answer.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    with stack.engine.begin() as conn:  # the deadline passed a second ago
        conn.execute(_window.update().values(closes_at=datetime.now(UTC) - timedelta(seconds=1)))
    late = "participant7@example.org"
    await send(port, signed(late, "A late proposal."), late, [OCP_ADDRESS])
    await stack.server.drain()
    assert proposals(stack.engine) == []
    [answer] = stack.recorder.to(late)
    text = answer.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "closed at the deadline" in text


async def test_outbound_mail_is_dkim_signed_when_a_key_is_configured(
    db_url: str, engine: Engine, participants: list[dict[str, str]], tmp_path: Path
) -> None:
    key, record = rsa_key()
    (tmp_path / "dkim.pem").write_bytes(key)
    DNS[b"wsis2027._domainkey.itu.int."] = record
    options: dict[str, Any] = {
        "dkim_domain": "itu.int",
        "dkim_selector": "wsis2027",
        "dkim_key_file": tmp_path / "dkim.pem",
    }
    async with inbound_stack(db_url, engine, **options) as running:
        got = await announce(running, "dkim:announcement")
        stranger = "stranger@example.net"  # answered: the answer is signed too
        await send(
            running.server.port,
            plain(stranger, OCP_ADDRESS, "Hi", "Hello."),
            stranger,
            [OCP_ADDRESS],
        )
        await running.server.drain()
        [answer] = running.recorder.to(stranger)
        assert dkim.verify(answer.data, dnsfunc=dnsfunc)
    assert len(got) == 30
    for message in got.values():
        assert dkim.verify(message.data, dnsfunc=dnsfunc)
        assert b"d=itu.int" in message.data.split(b"\r\n\r\n")[0]
    data = next(iter(got.values())).data
    tampered = data.replace(b"\r\n\r\n", b"\r\n\r\nAltered: ", 1)  # the body changed
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)


def test_one_answer_per_sender_per_period(stack: Stack) -> None:
    engine, settings = stack.engine, stack.settings
    now = datetime.now(UTC)
    assert claim_answer(engine, settings, "robot@example.org", now=now)
    assert not claim_answer(engine, settings, "ROBOT@example.org", now=now + timedelta(hours=23))
    assert claim_answer(engine, settings, "robot@example.org", now=now + timedelta(hours=25))


def test_our_mx_authentication_results_are_trusted_and_nobody_elses() -> None:
    from mail.inbound.process import parse_fast
    from mail.inbound.submissions import dmarc_pass

    settings = Settings(inbound_authserv_id="mx.itu.int")

    def check(header: str, sender: str = "participant1@example.org") -> bool:
        raw = plain(sender, OCP_ADDRESS, "S", "Text.", Authentication_Results=header)
        return dmarc_pass(parse_fast(raw), raw, settings, dnsfunc)

    assert check("mx.itu.int; dmarc=pass (p=reject) header.from=example.org")
    assert not check("mx.itu.int; dmarc=fail header.from=example.org")
    assert not check("mx.evil.example; dmarc=pass header.from=example.org")
    assert not check("garbage;;; =")
