"""Internationalised addresses (RFC 6531/6532): delivered where the server offers SMTPUTF8,
failed alone with a clear reason where it does not; invalid addresses fail alone too."""

from __future__ import annotations

import email
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.catcher import MailCatcher
from mail.addresses import address_problem
from mail.audience import audience_select
from mail.outbox import deliver, enqueue
from models.tables import OutboxMessage, Participant
from worker import build_worker
from workflows.announcement import AnnouncementWorkflow

from .conftest import free_port
from .test_email_delivery import add_people, announcement, quick

_p = Participant.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]

# The registry row of the issue: a non-ASCII domain with an ASCII display name (formataddr
# refused it), and a Greek address with a Greek name.
INTERNATIONAL = {
    "user@bücher.example": "Ulla Buch",
    "δοκιμή@παράδειγμα.δοκιμή": "Δοκιμή Παράδειγμα",
}


def add_international(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            _p.insert(),
            [
                {
                    "email": address,
                    "name": name,
                    "organization": "",
                    "country": "",
                    "stakeholder_type": "Other",
                    "language": "en",
                    "unsubscribed": False,
                    "unsubscribe_legacy": secrets.token_urlsafe(18),
                    "created_at": now,
                    "updated_at": now,
                }
                for address, name in INTERNATIONAL.items()
            ],
        )


def outcomes(engine: Engine, key: str) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_p.c.email, _outbox.c.state, _outbox.c.error)
            .join(_p, _p.c.id == _outbox.c.participant_id)
            .where(_outbox.c.campaign_key == key)
        ).all()
    return {r.email: (r.state, r.error) for r in rows}


@pytest.fixture
def utf8_mail() -> Iterator[MailCatcher]:
    catcher = MailCatcher(port=free_port(), smtputf8=True).start()
    yield catcher
    catcher.stop()


def test_address_problem_says_why_without_quoting_the_address() -> None:
    assert address_problem("anna@example.org", smtputf8=False) is None
    assert address_problem("user@bücher.example", smtputf8=True) is None
    assert address_problem("δοκιμή@παράδειγμα.δοκιμή", smtputf8=True) is None
    bad = {
        "user@bücher.example": "SMTPUTF8",
        "anna.example.org": "not an e-mail address",
        "@example.org": "not an e-mail address",
        "anna@": "not an e-mail address",
        "anna smith@example.org": "space",
        "anna@example.org\r\nBcc: x@y.z": "control character",
        "<anna@example.org>": "angle bracket",
        "a" * 65 + "@example.org": "64 octets",
        "ü" * 40 + "@example.org": "64 octets",  # 80 octets in UTF-8
        "anna@" + "d" * 250 + ".org": "254 octets",
    }
    for address, why in bad.items():
        problem = address_problem(address, smtputf8=False)
        assert problem is not None and why in problem, (address, problem)
        local = address.split("@")[0]
        assert address not in problem and not (local and local[:5] in problem)


async def test_international_addresses_are_delivered_with_smtputf8(
    settings: Settings, engine: Engine, utf8_mail: MailCatcher
) -> None:
    add_people(engine, 5)
    add_international(engine)
    utf8 = settings.model_copy(update={"smtp_port": utf8_mail.port})
    request = announcement("a:utf8")
    enqueue(request, audience_select(request, utf8), engine=engine)
    result = await deliver(request, utf8, engine=engine)
    assert result.sent == result.recipients == 7 and result.failed == 0
    by_rcpt = {m.recipients[0]: m for m in utf8_mail.received}
    for address, name in INTERNATIONAL.items():
        item = by_rcpt[address]  # the envelope carried the UTF-8 address as it is
        assert "SMTPUTF8" in item.mail_options
        head = item.data.split(b"\r\n\r\n", 1)[0]
        # RFC 6532: the address raw in UTF-8 in To, the display name an encoded-word or atom.
        assert f"<{address}>".encode() in head
        message = email.message_from_string(item.data.decode("utf-8"), policy=policy.default)
        assert message["To"].addresses[0].addr_spec == address
        assert message["To"].addresses[0].display_name == name
    ascii_only = by_rcpt["participant0@example.org"]
    assert "SMTPUTF8" not in ascii_only.mail_options  # only where it is needed
    assert ascii_only.data.isascii()


async def test_without_smtputf8_such_addresses_fail_alone_with_the_reason(
    settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    add_people(engine, 5)
    add_international(engine)
    request = announcement("a:no-utf8")
    enqueue(request, audience_select(request, settings), engine=engine)
    result = await deliver(request, settings, engine=engine)
    assert (result.recipients, result.sent, result.failed) == (7, 5, 2)
    for address, (state, error) in outcomes(engine, "a:no-utf8").items():
        if address in INTERNATIONAL:
            assert state == "failed" and error is not None and "SMTPUTF8" in error
            assert address not in error
        else:
            assert state == "sent"
    assert len(mail.received) == 5


async def test_smtp_utf8_setting_off_refuses_them_even_if_the_server_offers_it(
    settings: Settings, engine: Engine, utf8_mail: MailCatcher
) -> None:
    add_international(engine)
    off = settings.model_copy(update={"smtp_port": utf8_mail.port, "smtp_utf8": False})
    request = announcement("a:utf8-off")
    enqueue(request, audience_select(request, off), engine=engine)
    result = await deliver(request, off, engine=engine)
    assert (result.sent, result.failed) == (0, 2)
    assert Settings(_env_file=None).smtp_utf8 is True


async def test_a_campaign_with_an_undeliverable_row_completes_in_the_workflow(
    dev_env: WorkflowEnvironment, settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    """The issue: this row used to stall the campaign (retried for ever, sometimes hung)."""
    add_people(engine, 20)
    add_international(engine)
    async with build_worker(dev_env.client, settings, engine):
        result = await dev_env.client.execute_workflow(
            AnnouncementWorkflow.run,
            quick(announcement("a:stall")),
            id=f"announcement-stall-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=1),
        )
    # (the secretariat, no participant, gets no announcement)
    assert (result.recipients, result.sent, result.failed) == (22, 20, 2)
