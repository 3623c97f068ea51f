"""Mail that comes back changes who the next announcement reaches.

Real parts: the inbound server (aiosmtpd) on loopback, fed with aiosmtplib; real campaigns
sent by the outbox to a recording aiosmtpd catcher; SQLite. DSNs and ARF reports are the
RFCs' examples and the shapes the large providers send (``tests/inbound/samples.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mail.audience import audience_select
from mail.inbound.classify import Bounce
from mail.inbound.standing import record_bounce, standing_of
from mail.outbox import deliver, enqueue
from models.tables import BounceKind, InboundMessage, MailBounce, Participant
from models.wire import Audience, CampaignRequest, MessageKind

from .inbound import samples
from .inbound.kit import send
from .inbound.stack import BOUNCE_DOMAIN, Stack, announce, announcement, inbound_stack

ROOT = Path(__file__).resolve().parent.parent
_p = Participant.__table__  # type: ignore[attr-defined]
_in = InboundMessage.__table__  # type: ignore[attr-defined]
_bounce = MailBounce.__table__  # type: ignore[attr-defined]


@pytest_asyncio.fixture
async def stack(
    db_url: str, engine: Engine, participants: list[dict[str, str]]
) -> AsyncIterator[Stack]:
    async with inbound_stack(db_url, engine) as running:
        yield running


def outcomes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(sa.select(_in.c.outcome).order_by(_in.c.id))]


def state(engine: Engine, address: str) -> tuple[bool, bool]:
    """(unsubscribed, suspended) of the participant at ``address``."""
    with engine.connect() as conn:
        pid, unsubscribed = conn.execute(
            sa.select(_p.c.id, _p.c.unsubscribed).where(_p.c.email == address)
        ).one()
    standing = standing_of(engine, pid)
    return bool(unsubscribed), bool(standing and standing.suspended_at)


async def test_bounces_and_complaints_decide_who_the_next_announcement_reaches(
    stack: Stack,
) -> None:
    first = await announce(stack, "wsis-2027-ocp:opening")
    assert len(first) == 30
    verp = {rcpt: got.mail_from for rcpt, got in first.items()}
    # VERP: one return path per recipient, on the bounce domain, no address in it.
    assert len(set(verp.values())) == 30
    for rcpt, path in verp.items():
        assert path.startswith("wsis-bounces+b") and path.endswith("@" + BOUNCE_DOMAIN)
        assert rcpt.split("@")[0] not in path
    people = sorted(first, key=lambda a: int(a.removeprefix("participant").split("@")[0]))

    async def bounce(address: str, make: Callable[[str, str], bytes]) -> None:
        await send(stack.server.port, make(verp[address], address), "", [verp[address]])

    port = stack.server.port
    await bounce(people[0], samples.gmail)  # 5.1.1: suspended at once
    await bounce(people[1], samples.outlook)  # 5.1.10
    await bounce(people[2], samples.yahoo)  # plain text "doesn't have an account"
    await bounce(people[3], samples.qmail)  # plain text 5.1.1
    await bounce(people[4], samples.rfc3464)  # 5.0.0: a hard bounce, scored, not suspended
    await bounce(people[5], samples.mailbox_full)  # soft
    await bounce(people[6], samples.vacation)  # an auto-reply: no bounce
    await bounce(people[7], samples.delayed)  # a warning: no failure
    # Complaints: the original's return path; headers only; only its unsubscribe token.
    complaint = samples.arf(samples.original_with(return_path=verp[people[8]]))
    await send(port, complaint, "", ["wsis-bounces@" + BOUNCE_DOMAIN])
    headers_only = samples.arf(samples.original_with(verp[people[9]]), headers_only=True)
    await send(port, headers_only, "", ["wsis-bounces@" + BOUNCE_DOMAIN])
    message = first[people[10]].message
    token_only = samples.arf(
        samples.original_with(list_unsubscribe=str(message["List-Unsubscribe"]))
    )
    await send(port, token_only, "", ["wsis-bounces@" + BOUNCE_DOMAIN])
    # mailto unsubscribe: the List-Unsubscribe mailto with its subject.
    mailto = str(first[people[11]].message["List-Unsubscribe"]).split("mailto:")[1].rstrip(">")
    to, _, query = mailto.partition("?subject=")
    from urllib.parse import unquote

    from .inbound.kit import plain

    await send(port, plain(people[11], to, unquote(query), "unsubscribe"), people[11], [to])
    # Forged: a valid-looking token that we never signed; and a copy of an earlier bounce.
    forged = verp[people[12]].split("@")[0][:-10] + "aaaaaaaaaa@" + BOUNCE_DOMAIN
    await send(port, samples.gmail(forged, people[12]), "", [forged])
    again = samples.gmail(verp[people[13]], people[13])
    await send(port, again, "", [verp[people[13]]])
    await send(port, again, "", [verp[people[13]]])  # the same Message-ID: stored once
    await stack.server.drain()

    assert outcomes(stack.engine) == [
        "bounce-mailbox-suspended",
        "bounce-mailbox-suspended",
        "bounce-mailbox-suspended",
        "bounce-mailbox-suspended",
        "bounce-hard",
        "bounce-soft",
        "auto-reply",
        "dsn-no-failure",
        "complaint",
        "complaint",
        "complaint",
        "unsubscribe",
        "bounce-unmatched",
        "bounce-mailbox-suspended",
    ]
    suspended = {people[i] for i in (0, 1, 2, 3, 13)}
    unsubscribed = {people[i] for i in (8, 9, 10, 11)}
    for address in people:
        assert state(stack.engine, address) == (address in unsubscribed, address in suspended)
    with stack.engine.connect() as conn:  # bounces per campaign
        per_campaign = conn.execute(
            sa.select(_bounce.c.campaign_key, sa.func.count()).group_by(_bounce.c.campaign_key)
        ).all()
    assert per_campaign == [("wsis-2027-ocp:opening", 7)]

    second = await announce(stack, "wsis-2027-ocp:reminder")
    assert set(second) == set(people) - suspended - unsubscribed
    assert stack.server.duplicates == 1

    # The secretariat's view: counts and ids, addresses only when asked for.
    shown = starter(stack.settings.database_url, "mail", "bounces")
    assert shown.returncode == 0, shown.stderr
    assert "wsis-2027-ocp:opening: hard 1, mailbox 5, soft 1 (of 30 sent)" in shown.stdout
    assert "suspended participants: 5" in shown.stdout
    assert "complaints (unsubscribed by a feedback report): 3" in shown.stdout
    assert "@" not in shown.stdout + shown.stderr
    named = starter(stack.settings.database_url, "mail", "bounces", "--addresses")
    assert all(address in named.stdout for address in suspended)
    # Re-enabled (the participant fixed their mailbox): the next announcement reaches them.
    with stack.engine.connect() as conn:
        pid = conn.execute(sa.select(_p.c.id).where(_p.c.email == people[0])).scalar_one()
    assert starter(stack.settings.database_url, "mail", "reenable", str(pid)).returncode == 0
    assert starter(stack.settings.database_url, "mail", "reenable", str(pid)).returncode == 2
    third = await announce(stack, "wsis-2027-ocp:third")
    assert people[0] in third and len(third) == len(second) + 1


async def test_a_campaign_queued_before_a_bounce_skips_the_suspended_at_send_time(
    stack: Stack,
) -> None:
    """The audience is frozen when a campaign is queued; a participant suspended (or
    unsubscribed) after that does not get it all the same, but still gets mail meant for them
    alone (an acknowledgement)."""
    first = await announce(stack, "wsis-2027-ocp:opening")
    people = sorted(first, key=lambda a: int(a.removeprefix("participant").split("@")[0]))
    verp = {rcpt: got.mail_from for rcpt, got in first.items()}
    queued = announcement("wsis-2027-ocp:reminder")
    enqueue(queued, audience_select(queued, stack.settings), engine=stack.engine)
    port = stack.server.port
    # Now, with the reminder queued for all 30: one hard bounce, one complaint.
    await send(port, samples.gmail(verp[people[0]], people[0]), "", [verp[people[0]]])
    complaint = samples.arf(samples.original_with(return_path=verp[people[1]]))
    await send(port, complaint, "", ["wsis-bounces@" + BOUNCE_DOMAIN])
    await stack.server.drain()
    assert state(stack.engine, people[0]) == (False, True)
    assert state(stack.engine, people[1]) == (True, False)

    result = await deliver(queued, stack.settings, engine=stack.engine)
    got = {g.rcpt[0] for g in stack.recorder.got if g.message["X-WSIS-Campaign"] == queued.key}
    assert got == set(people) - {people[0], people[1]}
    assert (result.recipients, result.sent, result.skipped) == (30, 28, 2)
    with stack.engine.connect() as conn:
        pid = conn.execute(sa.select(_p.c.id).where(_p.c.email == people[0])).scalar_one()
    # Transactional mail is never suspended: how the person gets back in.
    ack = CampaignRequest(
        key="wsis-2027-ocp:ack:1", process_id="wsis-2027-ocp",
        kind=MessageKind.OCP_SUBMISSION_ACK, audience=Audience.ONE_PARTICIPANT,
        participant_id=pid, title="WSIS Forum 2027", timezone="Europe/Zurich",
    )  # fmt: skip
    enqueue(ack, audience_select(ack, stack.settings), engine=stack.engine)
    sent = await deliver(ack, stack.settings, engine=stack.engine)
    assert (sent.sent, sent.skipped) == (1, 0)
    assert [g.rcpt[0] for g in stack.recorder.got if g.message["X-WSIS-Campaign"] == ack.key] == [
        people[0]
    ]


def starter(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WSIS_DATABASE_URL": db_url, "WSIS_LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "starter.py", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip


async def test_the_bounce_score_follows_mailmans_rule(
    stack: Stack, participants: list[dict[str, str]]
) -> None:
    engine, settings = stack.engine, stack.settings
    with engine.connect() as conn:
        pid = conn.execute(sa.select(sa.func.min(_p.c.id))).scalar_one()
    day = datetime(2027, 3, 1, 9, tzinfo=UTC)
    soft, hard = Bounce(BounceKind.SOFT, "4.4.7"), Bounce(BounceKind.HARD, "5.7.1")

    def stored(n: int) -> int:
        with engine.begin() as conn:
            return int(
                conn.execute(
                    _in.insert().values(
                        key=f"k{n}-{pid}",
                        mail_from="",
                        rcpt_json="[]",
                        raw=b"x",
                        state="done",
                        received_at=day,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )

    n = 0
    # Soft bounces add 0.5 once a day: two the same day count once.
    for offset in range(9):
        for _ in range(2):
            n += 1
            assert not record_bounce(
                engine, settings, stored(n), pid, None, soft, now=day + timedelta(days=offset)
            )
    standing = standing_of(engine, pid)
    assert standing is not None and standing.score == 4.5 and standing.suspended_at is None
    # A week without bounces: the score starts again.
    n += 1
    later = day + timedelta(days=8 + 8)
    record_bounce(engine, settings, stored(n), pid, None, hard, now=later)
    standing = standing_of(engine, pid)
    assert standing is not None and standing.score == 1.0
    for offset in range(1, 4):
        n += 1
        record_bounce(
            engine, settings, stored(n), pid, None, hard, now=later + timedelta(days=offset)
        )
    n += 1  # the fifth hard bounce, on the fifth day, reaches the threshold
    assert record_bounce(
        engine, settings, stored(n), pid, None, hard, now=later + timedelta(days=4)
    )
    standing = standing_of(engine, pid)
    assert standing is not None and standing.suspended_at is not None
    assert standing.reason == "repeated bounces (score 5)"


@pytest.mark.parametrize("name", ["gmail", "outlook", "yahoo", "qmail"])
def test_each_no_such_mailbox_format_is_recognised(name: str) -> None:
    from mail.inbound.classify import bounce_of
    from mail.inbound.process import parse_fast

    raw = samples.BOUNCES[name]("wsis-bounces+b1-aaaa@x", "gone@example.com")
    bounce = bounce_of(parse_fast(raw))
    assert bounce is not None and bounce.kind is BounceKind.MAILBOX
