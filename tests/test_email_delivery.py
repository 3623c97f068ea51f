"""Email delivery under faults: exactly once per recipient, counted where the mail arrives.

Real parts only: the Temporal CLI dev server (``dev_env``), aiosmtpd on loopback (the
``MailCatcher``, with its fault injection), SQLite files, and for the crash test a worker in
its own process, killed with SIGKILL mid-campaign.
"""

from __future__ import annotations

import asyncio
import email
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import policy
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.db import create_db_engine, migrate
from core.settings import Settings
from devstack.catcher import MailCatcher
from intake.tokens import unsubscribe_token
from mail.audience import audience_select
from mail.compose import Composer, Recipient, render
from mail.outbox import CampaignStopped, campaign_counts, deliver, enqueue
from models.tables import OutboxMessage, Participant
from models.wire import Audience, CampaignRequest, CampaignResult, MessageKind
from tests.helpers import assert_eventually
from worker import build_worker
from workflows.announcement import AnnouncementInput, AnnouncementWorkflow

from .conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
_p = Participant.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]

NAMES = [
    ("Amina Diallo", "fr"),
    ("Chen Wei 陈伟", "zh"),
    ("Farah Haddad فرح حداد", "ar"),
    ("Dana Ivanova Дана Иванова", "ru"),
    ("Gustavo Pérez", "es"),
    ("Bruno Costa", "pt"),
    ('Julia "J." Müller, Dr.', "en"),
    ("Hana Sato", "en"),
]


def add_people(engine: Engine, count: int, *, start: int = 0) -> list[str]:
    """``count`` participants (addresses ``participant<i>@example.org``), inserted directly."""
    now = datetime.now(UTC)
    rows = []
    for i in range(start, start + count):
        name, language = NAMES[i % len(NAMES)]
        rows.append(
            {
                "email": f"participant{i}@example.org",
                "name": f"{name} {i}",
                "organization": "Org",
                "country": "Switzerland",
                "stakeholder_type": "Other",
                "language": language,
                "unsubscribed": False,
                "unsubscribe_legacy": secrets.token_urlsafe(18),
                "created_at": now,
                "updated_at": now,
            }
        )
    with engine.begin() as conn:
        conn.execute(_p.insert(), rows)
    return [str(r["email"]) for r in rows]


def subscribed(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        query = sa.select(_p.c.email).where(_p.c.unsubscribed.is_(False))
        return set(conn.execute(query).scalars())


def announcement(key: str, **kw: object) -> CampaignRequest:
    fields: dict[str, object] = {
        "key": key,
        "process_id": "announcements",
        "kind": MessageKind.OCP_OPENING,
        "audience": Audience.EVERYONE,
        "title": "WSIS Forum 2027",
        "timezone": "Europe/Zurich",
        "when": datetime(2027, 1, 31, 22, 59, tzinfo=UTC),
    }
    return CampaignRequest.model_validate({**fields, **kw})


def quick(request: CampaignRequest, heartbeat: float = 5.0) -> AnnouncementInput:
    """Short waits: a dead worker is noticed in seconds, a retry comes half a second later."""
    return AnnouncementInput(
        request=request,
        heartbeat_timeout=timedelta(seconds=heartbeat),
        retry_initial_interval=timedelta(milliseconds=500),
    )


async def run(client: Client, settings: Settings, body: AnnouncementInput) -> CampaignResult:
    return await client.execute_workflow(
        AnnouncementWorkflow.run,
        body,
        id=f"announcement-{uuid.uuid4().hex[:10]}",
        task_queue=settings.task_queue,
        execution_timeout=timedelta(minutes=3),
    )


async def attempts_of(handle: WorkflowHandle[Any, Any]) -> int:
    """The attempt that completed the (first) campaign activity."""
    async for event in handle.fetch_history_events():
        if event.HasField("activity_task_started_event_attributes"):
            attempt = event.activity_task_started_event_attributes.attempt
    return attempt


async def wait_until(check: Callable[[], bool], patience: float = 60.0) -> None:
    """Wait until ``check()`` holds (``assert_eventually``, for a plain predicate)."""

    async def holds() -> None:
        assert check(), "timed out waiting"

    await assert_eventually(holds, within=patience)


@contextmanager
def worker_process(
    env: WorkflowEnvironment, settings: Settings, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``python worker.py`` in its own process, configured through the environment."""
    environ = {
        **os.environ,
        "WSIS_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "WSIS_DATABASE_URL": settings.database_url,
        "WSIS_TASK_QUEUE": settings.task_queue,
        "WSIS_SMTP_HOST": settings.smtp_host,
        "WSIS_SMTP_PORT": str(settings.smtp_port),
        "WSIS_SMTP_CONNECTIONS": str(settings.smtp_connections),
        "WSIS_SMTP_RATE_PER_SECOND": str(settings.smtp_rate_per_second or ""),
        "WSIS_LOG_LEVEL": "WARNING",
        "WSIS_LOG_FORMAT": "json",
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "worker.py"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- Crash of the worker ------------------------------------------------------------------------


async def test_worker_killed_mid_campaign_resumes_without_loss(
    dev_env: WorkflowEnvironment, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    catcher = MailCatcher(port=free_port(), keep=False).start()
    try:
        settings = Settings(
            database_url=db_url,
            smtp_host=catcher.host,
            smtp_port=catcher.port,
            task_queue=f"wsis-kill-{uuid.uuid4().hex[:8]}",
            smtp_connections=4,
            smtp_rate_per_second=500,  # a few seconds of sending: room to kill it midway
        )
        add_people(engine, 3000)
        request = announcement("announcement:kill-test")
        log = tmp_path / "worker.log"
        handle = await dev_env.client.start_workflow(
            AnnouncementWorkflow.run,
            quick(request, heartbeat=2.0),
            id=f"announcement-kill-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=3),
        )
        with worker_process(dev_env, settings, log) as first:
            await wait_until(lambda: catcher.count >= 800)
            first.send_signal(signal.SIGKILL)
            first.wait()
        at_kill = catcher.count
        assert at_kill < 3000, "the campaign finished before the kill"
        with worker_process(dev_env, settings, log):
            result: CampaignResult = await asyncio.wait_for(handle.result(), 120)
        everyone = subscribed(engine)
        assert result.recipients == len(everyone) and result.sent == len(everyone)
        assert set(catcher.tally) == everyone  # nobody skipped
        duplicates = catcher.duplicates()
        # Only a message whose outcome the crash hid can arrive twice, and each connection has
        # at most one such message at any moment.
        assert duplicates <= result.ambiguous <= settings.smtp_connections
        assert await attempts_of(handle) >= 2  # the second worker resumed the same activity
    finally:
        catcher.stop()


# -- The SMTP server goes down and comes back ---------------------------------------------------


async def test_smtp_server_down_then_back_delivers_everything_once(
    dev_env: WorkflowEnvironment, settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    settings = settings.model_copy(update={"smtp_rate_per_second": 400})
    add_people(engine, 1200)
    async with build_worker(dev_env.client, settings, engine):
        task = asyncio.create_task(run(dev_env.client, settings, quick(announcement("a:down"))))
        await wait_until(lambda: mail.count >= 300)
        mail.down()
        refused_at = mail.count
        await asyncio.sleep(3)
        assert mail.count <= refused_at + settings.smtp_connections  # really down
        mail.up()
        result = await asyncio.wait_for(task, 120)
    everyone = subscribed(engine)
    assert result.sent == result.recipients == len(everyone)
    per = mail.per_recipient("a:down")
    assert {rcpt for _, rcpt in per} == everyone and set(per.values()) == {1}  # none twice
    assert result.ambiguous == 0  # the shutdown answered every message: nothing in doubt
    with engine.connect() as conn:  # messages refused during the outage went out on a retry
        retried = conn.execute(
            sa.select(sa.func.count()).where(
                _outbox.c.campaign_key == "a:down", _outbox.c.attempts > 1
            )
        ).scalar_one()
    assert retried >= 1


# -- Permanent and temporary refusals ----------------------------------------------------------


async def test_550_recorded_as_failed_451_retried_and_delivered(
    dev_env: WorkflowEnvironment, settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    emails = add_people(engine, 40)
    unknown, greylisted = emails[3:8], emails[20:25]
    for address in unknown:
        mail.faults.refuse[address] = (550, "5.1.1 No such user here")
    for address in greylisted:
        mail.faults.refuse_once[address] = (451, "4.7.1 Greylisted, please try again later")
    async with build_worker(dev_env.client, settings, engine):
        result = await run(dev_env.client, settings, quick(announcement("a:refusals")))
        # The same campaign again (a second start, a Reset): nothing is sent twice.
        again = await run(dev_env.client, settings, quick(announcement("a:refusals")))
    everyone = subscribed(engine)
    assert (result.recipients, result.failed, result.sent) == (
        len(everyone),
        len(unknown),
        len(everyone) - len(unknown),
    )
    assert again == result
    per = mail.per_recipient("a:refusals")
    assert {rcpt for _, rcpt in per} == everyone - set(unknown) and set(per.values()) == {1}
    assert not mail.faults.refuse_once  # each greylisted address was refused once, then took it
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_p.c.email, _outbox.c.state, _outbox.c.error, _outbox.c.attempts)
            .join(_p, _p.c.id == _outbox.c.participant_id)
            .where(_outbox.c.campaign_key == "a:refusals")
        ).all()
    by_email = {r.email: r for r in rows}
    for address in unknown:  # recorded per recipient, with the server's reply
        assert by_email[address].state == "failed"
        assert "550 5.1.1 No such user" in by_email[address].error
    for address in greylisted:
        assert by_email[address].state == "sent" and by_email[address].attempts == 2


async def test_policy_refusal_stops_the_campaign_with_a_clear_error(
    settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    emails = add_people(engine, 20)
    mail.faults.refuse[emails[5]] = (550, "5.7.1 Relaying denied: authentication required")
    request = announcement("a:policy")
    enqueue(request, audience_select(request, settings), engine=engine)
    one = settings.model_copy(update={"smtp_connections": 1})
    with pytest.raises(CampaignStopped, match=r"refused RCPT TO \(550 5.7.1 Relaying denied"):
        await deliver(request, one, engine=engine)
    counts = campaign_counts("a:policy", engine=engine)
    assert counts.sent == 5 and counts.failed == 0  # the refused row stays pending
    mail.faults.refuse.clear()  # the cause is fixed: the rest goes out, nothing twice
    result = await deliver(request, one, engine=engine)
    assert result.sent == result.recipients
    assert set(mail.per_recipient("a:policy").values()) == {1}


# -- History size -------------------------------------------------------------------------------


async def test_history_has_the_same_events_for_10_and_10000_recipients(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    catcher = MailCatcher(port=free_port(), keep=False).start()
    lengths = {}
    try:
        for size in (10, 10_000):
            url = f"sqlite:///{tmp_path / f'history-{size}.db'}"
            migrate(url)
            engine = create_db_engine(url)
            add_people(engine, size)
            settings = Settings(
                database_url=url,
                smtp_host=catcher.host,
                smtp_port=catcher.port,
                task_queue=f"wsis-history-{uuid.uuid4().hex[:8]}",
                smtp_connections=4,
            )
            async with build_worker(dev_env.client, settings, engine):
                handle = await dev_env.client.start_workflow(
                    AnnouncementWorkflow.run,
                    quick(announcement(f"a:history-{size}")),
                    id=f"announcement-history-{size}-{uuid.uuid4().hex[:6]}",
                    task_queue=settings.task_queue,
                )
                result = await handle.result()
            assert result.sent == result.recipients == size  # the secretariat is no participant
            history = await handle.fetch_history()
            lengths[size] = len(history.events)
            if size == 10:  # no personal data in the history
                text = history.to_json()
                assert "@example.org" not in text and "Diallo" not in text
            engine.dispose()
    finally:
        catcher.stop()
    assert lengths[10] == lengths[10_000], lengths


async def test_sharded_campaign_runs_shards_in_parallel_and_sums_them(
    dev_env: WorkflowEnvironment, settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    add_people(engine, 300)
    async with build_worker(dev_env.client, settings, engine):
        result = await run(dev_env.client, settings, quick(announcement("a:shards", shards=3)))
    everyone = subscribed(engine)
    assert result.sent == result.recipients == len(everyone)
    per = mail.per_recipient("a:shards")
    assert {rcpt for _, rcpt in per} == everyone and set(per.values()) == {1}
    parts = [campaign_counts("a:shards", engine=engine, shard=s, shards=3) for s in range(3)]
    assert sum(p.sent for p in parts) == result.sent and all(p.sent > 50 for p in parts)


# -- What the messages look like ----------------------------------------------------------------


async def test_messages_are_clean_and_carry_the_required_headers(
    dev_env: WorkflowEnvironment, settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    add_people(engine, 30)
    now = datetime.now(UTC)
    tricky = {
        "crlf@example.org": "Mallory\r\nBcc: victim@example.org",
        "html@example.org": "Eve <script>alert(1)</script> & co",
        "long@example.org": "Ναυσικά Παπαδοπούλου-Αλεξανδροπούλου 中华人民共和国国务院新闻办公室",
        "gone@example.org": "Before Campaign",
        "later@example.org": "After Enqueue",
    }
    with engine.begin() as conn:
        conn.execute(
            _p.insert(),
            [
                {
                    "email": email,
                    "name": name,
                    "organization": "",
                    "country": "",
                    "stakeholder_type": "Other",
                    "language": "en",
                    "unsubscribed": email == "gone@example.org",
                    "unsubscribe_legacy": secrets.token_urlsafe(18),
                    "created_at": now,
                    "updated_at": now,
                }
                for email, name in tricky.items()
            ],
        )
    request = announcement("a:headers", title="WSIS Forum 2027\r\nBcc: everyone@example.org")
    async with build_worker(dev_env.client, settings, engine):
        # Enqueued (audience frozen), then one participant unsubscribes before delivery.
        enqueue(request, audience_select(request, settings), engine=engine)
        with engine.begin() as conn:
            conn.execute(
                _p.update().where(_p.c.email == "later@example.org").values(unsubscribed=True)
            )
        result = await run(dev_env.client, settings, quick(request))
    received = [m for m in mail.received if m.campaign == "a:headers"]
    with engine.connect() as conn:
        tokens = {  # computed from the id under the portal's key, not stored
            r.email: unsubscribe_token(settings.portal_key(), r.id, r.unsubscribe_generation)
            for r in conn.execute(sa.select(_p.c.id, _p.c.email, _p.c.unsubscribe_generation))
        }
    assert result.skipped == 1 and result.sent == len(received) == result.recipients - 1
    rcpts = {m.recipients[0].lower() for m in received}
    assert "gone@example.org" not in rcpts and "later@example.org" not in rcpts
    ids = set()
    for item in received:
        msg = item.message
        assert not [d for part in msg.walk() for d in part.defects], item.recipients
        assert msg["Bcc"] is None and msg["Cc"] is None
        assert "\r" not in str(msg["Subject"]) and "\n" not in str(msg["Subject"])
        # (An Arabic subject starts with a right-to-left mark and isolates the title.)
        subject = re.sub("[\u200e\u200f\u2066-\u2069]", "", str(msg["Subject"]))
        assert subject.startswith("WSIS Forum 2027 Bcc: everyone@example.org")
        assert parsedate_to_datetime(str(msg["Date"])).tzinfo is not None
        ids.add(str(msg["Message-ID"]))
        address = item.recipients[0].lower()
        assert msg["To"].addresses[0].addr_spec == address
        assert msg["List-Unsubscribe"] == (
            f"<{settings.portal_url}/unsubscribe/{tokens[address]}>, "
            f"<mailto:wsis-unsubscribe@itu.int?subject=unsubscribe%20{tokens[address]}>"
        )
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert [p.get_content_type() for p in msg.walk()] == [
            "multipart/alternative",
            "text/plain",
            "text/html",
        ]
    assert len(ids) == len(received)  # every Message-ID unique
    by_rcpt = {m.recipients[0].lower(): m.message for m in received}
    crlf = by_rcpt["crlf@example.org"]
    assert crlf["To"].addresses[0].display_name == "Mallory Bcc: victim@example.org"
    assert "victim@example.org" not in {a.addr_spec for a in crlf["To"].addresses[1:]}
    # A long non-ASCII name takes several RFC 2047 encoded-words; a decoder that follows the
    # RFC gives it back exactly (the email package's own address parser adds a space between
    # adjacent encoded-words, for its own output too).
    raw = next(m for m in received if m.recipients == ["long@example.org"]).data
    to = email.message_from_bytes(raw, policy=policy.compat32)["To"]
    assert str(make_header(decode_header(to))) == (
        f"{tricky['long@example.org']} <long@example.org>"
    )
    html = by_rcpt["html@example.org"].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Eve &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html and "<script>" not in html
    text = by_rcpt["html@example.org"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Dear Eve <script>alert(1)</script> & co," in text


async def test_transactional_mail_reaches_an_unsubscribed_participant(
    settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    add_people(engine, 3)
    with engine.begin() as conn:
        conn.execute(
            _p.update().where(_p.c.email == "participant1@example.org").values(unsubscribed=True)
        )
        pid = conn.execute(
            sa.select(_p.c.id).where(_p.c.email == "participant1@example.org")
        ).scalar_one()
    ack = CampaignRequest(
        key="p:ack:1",
        process_id="p",
        kind=MessageKind.OCP_SUBMISSION_ACK,
        audience=Audience.ONE_PARTICIPANT,
        participant_id=pid,
        title="WSIS Forum 2027",
        timezone="Europe/Zurich",
    )
    enqueue(ack, audience_select(ack, settings), engine=engine)
    result = await deliver(ack, settings, engine=engine)
    assert result.sent == 1 and result.skipped == 0
    (item,) = mail.received
    assert item.recipients == ["participant1@example.org"]
    assert item.message["List-Unsubscribe"] is None  # not bulk mail


def test_fast_composition_equals_full_rendering() -> None:
    request = announcement("a:compose")
    composer = Composer(
        request,
        "WSIS Secretariat <wsis-info@itu.int>",
        "https://example.org/u/{token}?a=1&b=2",
        "u@example.org",
        unsubscribe_key=b"k" * 32,
    )
    for i, (name, language) in enumerate([*NAMES, ("O'Brien <b>&amp;</b>", "en")] * 5):
        recipient = Recipient(i, f"p{i}@example.org", name, language)
        written, subject, text, html = composer.content(recipient)
        assert written == language  # every catalog translates the template
        token = unsubscribe_token(b"k" * 32, i, 0)
        context = composer.context(language, name, f"https://example.org/u/{token}?a=1&b=2")
        assert (subject, text, html) == render(request.kind, language, context)
    assert all(v.exact and v.checked == 3 for v in composer._variants.values())


async def test_campaign_stopped_fails_the_announcement_workflow(
    dev_env: WorkflowEnvironment, settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    emails = add_people(engine, 5)
    mail.faults.refuse[emails[0]] = (535, "5.7.8 Authentication credentials invalid")
    async with build_worker(dev_env.client, settings, engine):
        with pytest.raises(WorkflowFailureError) as failure:
            await run(dev_env.client, settings, quick(announcement("a:stopped")))
    cause: BaseException | None = failure.value.cause
    while getattr(cause, "cause", None) is not None:
        cause = getattr(cause, "cause", None)
    assert "CampaignStopped" in repr(cause) or "stopped" in str(cause)
    assert "535 5.7.8" in str(cause)


async def test_outbox_waits_for_another_sqlite_writer_without_blocking(
    settings: Settings, engine: Engine, db_url: str, mail: MailCatcher
) -> None:
    add_people(engine, 50)
    request = announcement("a:busy")
    enqueue(request, audience_select(request, settings), engine=engine)
    other = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock (intake, another shard)
    try:
        task = asyncio.create_task(deliver(request, settings, engine=engine))
        started = time.monotonic()
        await asyncio.sleep(0.5)
        assert time.monotonic() - started < 0.9  # the event loop was never blocked
        assert not task.done() and mail.count <= settings.smtp_connections
    finally:
        other.execute("COMMIT")
        other.close()
    result = await asyncio.wait_for(task, 30)
    assert result.sent == result.recipients == 50
    assert set(mail.per_recipient("a:busy").values()) == {1}
