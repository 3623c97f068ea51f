"""No e-mail address leaves the database: not in workflow history, heartbeats, errors or logs.

An SMTP server that quotes the address in its refusal (Postfix: ``554 5.7.1 <anna@...>: Relay
access denied``) stops the campaign; the error is recorded in the workflow's history and shown
in the Web UI, so it must carry the reply with the address redacted. The full reply stays in
the outbox row.
"""

from __future__ import annotations

import logging
import sys
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from core.log import redact_event
from core.redact import REDACTED, redact_addresses
from core.settings import Settings
from devstack.catcher import MailCatcher
from mail.audience import audience_select
from mail.outbox import CampaignStopped, deliver, enqueue
from mail.outbox.exchange import Progress
from models.tables import OutboxMessage
from worker import build_worker
from workflows.announcement import AnnouncementWorkflow

from .conftest import free_port, history_text
from .test_email_delivery import add_people, announcement, quick

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "554 5.7.1 <anna@example.org>: Relay access denied",
            f"554 5.7.1 <{REDACTED}>: Relay access denied",
        ),
        ("RCPT TO:<anna@example.org> refused", f"RCPT TO:<{REDACTED}> refused"),
        ("mailto:anna@example.org", f"mailto:{REDACTED}"),
        ("(anna@example.org), bob@x.y; c@d", f"({REDACTED}), {REDACTED}; {REDACTED}"),
        ('"anna smith"@example.org said no', f"{REDACTED} said no"),
        ("user@bücher.example", REDACTED),
        ("δοκιμή@παράδειγμα.δοκιμή is unknown", f"{REDACTED} is unknown"),
        # Look-alikes, found after NFKC normalisation: fullwidth and small at signs, letters.
        ("550 anna\uff20example.org unknown", f"550 {REDACTED} unknown"),
        ("550 anna\ufe6bexample.org unknown", f"550 {REDACTED} unknown"),
        ("\uff41\uff4e\uff4e\uff41\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45", REDACTED),
        ("link ?to=anna%40example.org", f"link {REDACTED}"),
        ("anna@ and @example.org", f"{REDACTED} and {REDACTED}"),
        # Nothing that looks like an address: unchanged, NFKC or not.
        ("451 4.7.1 Greylisted, try again", "451 4.7.1 Greylisted, try again"),
        ("a @ b", "a @ b"),
        ("\ufb01le \uff38", "\ufb01le \uff38"),
    ],
)
def test_redact_addresses(text: str, expected: str) -> None:
    assert redact_addresses(text) == expected


def test_log_lines_are_redacted_exceptions_included() -> None:
    try:
        raise ValueError("no such user anna@example.org")
    except ValueError:
        event: dict[str, Any] = {
            "event": "refused anna@example.org",
            "reply": "554 <anna\uff20example.org>",
            "count": 3,
            "exc_info": sys.exc_info(),
        }
    event = dict(structlog.processors.format_exc_info(None, "", event))
    event = dict(redact_event(None, "", event))
    text = repr(event)
    assert "anna" not in text and "ValueError: no such user [address]" in event["exception"]
    assert event["count"] == 3


def test_heartbeat_details_are_numbers_only() -> None:
    details = Progress(sent=3, failed=1, last_id=9).details()
    assert details and all(type(v) is int for v in details.values())


async def test_a_policy_refusal_quoting_the_address_reaches_no_history(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emails = add_people(engine, 8)
    anna = emails[3]
    mail.faults.refuse[anna] = (554, f"5.7.1 <{anna}>: Relay access denied")
    handle_id = f"announcement-privacy-{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.DEBUG)
    async with build_worker(dev_env.client, settings, engine):
        handle = await dev_env.client.start_workflow(
            AnnouncementWorkflow.run,
            quick(announcement("a:privacy")),
            id=handle_id,
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=1),
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    text = history_text(await handle.fetch_history())
    local = anna.split("@")[0]
    assert "554 5.7.1 <[address]>: Relay access denied" in text  # the reply, redacted
    assert anna not in text and local not in text
    assert "@example.org" not in text
    # The failure as the client sees it, cause by cause.
    cause: BaseException | None = failure.value
    while cause is not None:
        assert anna not in str(cause)
        cause = getattr(cause, "cause", None) or cause.__cause__
    # Nor in any log line of the worker (ours, Temporal's), tracebacks included; the SMTP
    # server's own log (aiosmtpd's "mail.log") is the other side's.
    ours = [r for r in caplog.records if r.name != "mail.log"]
    lines = "\n".join(caplog.handler.format(r) for r in ours)
    assert "CampaignStopped" in lines and anna not in lines and local not in lines
    # The database keeps the full reply.
    with engine.connect() as conn:
        errors = conn.execute(
            sa.select(_outbox.c.error).where(
                _outbox.c.campaign_key == "a:privacy", _outbox.c.error.is_not(None)
            )
        ).scalars()
        assert f"RCPT TO: 554 5.7.1 <{anna}>: Relay access denied" in list(errors)


async def test_a_lookalike_address_in_a_refusal_is_redacted_too(
    settings: Settings, engine: Engine
) -> None:
    emails = add_people(engine, 3)
    fullwidth = emails[1].replace("@", "\uff20")
    with MailCatcher(port=free_port(), smtputf8=True) as mail:  # it may answer in UTF-8
        mail.faults.refuse[emails[1]] = (550, f"5.7.1 {fullwidth} is not allowed to relay")
        request = announcement("a:lookalike")
        enqueue(request, audience_select(request, settings), engine=engine)
        utf8 = settings.model_copy(update={"smtp_port": mail.port})
        with pytest.raises(CampaignStopped) as stopped:
            await deliver(request, utf8, engine=engine)
    message = str(stopped.value)
    assert "5.7.1 [address] is not allowed to relay" in message
    assert emails[1].split("@")[0] not in message
