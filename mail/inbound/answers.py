"""The one clear answer to mail that cannot be taken: never a loop.

An answer goes to the envelope sender (RFC 3834 3.1.5) from the null return path, marked
``Auto-Submitted: auto-replied``, so that a well-behaved responder never answers it and a
bounce of it never comes back to us. Nothing is answered that was itself automatic or had a
null sender (the caller checks), and a sender gets at most one answer per
``inbound_answer_every_hours``, whatever it sends: two auto-responders cannot ping-pong.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.log import get_logger
from core.settings import Settings
from mail.headers import header_value
from mail.outbox.connect import Unusable, open_connection, tls_context
from mail.signing import DkimSigner
from mail.tokens import mail_key
from models.tables import InboundAnswer

log = get_logger(__name__)
_answer = InboundAnswer.__table__  # type: ignore[attr-defined]

SIGNATURE = "\n\n-- \nWSIS Secretariat (an automatic answer: replies to it are not read)\n"

TEXTS = {
    "unverifiable": (
        "We could not verify that this message comes from its sender's address (its domain's "
        "DKIM signature is missing or does not match), so it was not recorded as an official "
        "submission. Please reply to the announcement of the open consultation, or use the "
        "form on the portal: {portal}/ocp"
    ),
    "unknown": (
        "This address is not that of a verified participant, so the message was not recorded "
        "as an official submission. Sign in once on the portal ({portal}/signin) to be "
        "verified, then send it again or use the portal's form."
    ),
    "closed": "The message was not recorded as an official submission: {reason}",
    "attachments": (
        "Thank you for writing. Official submissions by e-mail are taken as plain text only: "
        "attachments cannot be accepted. Please send your submission again with its text in "
        "the body of the message, or use the form on the portal: {portal}/my"
    ),
    "empty": (
        "Your message had no text of its own (quoted text and signatures are left out), so "
        "nothing was recorded. Write your submission in the body of the message."
    ),
    "incomplete": (
        "Your official submission needs your organization and country, and the portal has "
        "none for you: please complete the form on the portal instead ({portal}/my)."
    ),
}


@dataclass(frozen=True)
class Answer:
    """An answer to send: to whom (the envelope sender), about what, and which text."""

    to: str
    subject: str
    in_reply_to: str
    text: str
    why: str  # the key of TEXTS: what the logs say


def answer_for(
    why: str, to: str, subject: str, in_reply_to: str, settings: Settings, **kw: str
) -> Answer:
    """The answer ``why`` (a key of ``TEXTS``) to ``to``."""
    text = TEXTS[why].format(portal=settings.portal_url, **kw) + SIGNATURE
    return Answer(to, subject, in_reply_to, text, why)


def claim_answer(
    engine: Engine, settings: Settings, sender: str, *, now: datetime | None = None
) -> bool:
    """Whether ``sender`` may be answered now (recorded as answered if so): at most once per
    period. The address is kept as a keyed hash only."""
    now = now or datetime.now(UTC)
    digest = hmac.new(mail_key(settings), sender.strip().lower().encode(), hashlib.sha256)
    sender_hash = digest.hexdigest()
    since = now - timedelta(hours=settings.inbound_answer_every_hours)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        last = conn.execute(
            sa.select(_answer.c.answered_at).where(_answer.c.sender_hash == sender_hash)
        ).scalar()
        if last is not None and last > since:
            return False
        if last is None:
            conn.execute(_answer.insert().values(sender_hash=sender_hash, answered_at=now))
        else:
            conn.execute(
                _answer.update().where(_answer.c.sender_hash == sender_hash).values(answered_at=now)
            )
    return True


def answer_message(answer: Answer, settings: Settings) -> EmailMessage:
    """The answer as a message: plain text, ``Auto-Submitted: auto-replied``."""
    msg = EmailMessage()
    sender = settings.ocp_address or settings.mail_from
    msg["From"] = header_value(sender)
    msg["To"] = header_value(answer.to)
    subject = header_value(answer.subject)[:200] or "your message"
    msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or "wsis.local")
    if answer.in_reply_to:
        msg["In-Reply-To"] = header_value(answer.in_reply_to)
        msg["References"] = header_value(answer.in_reply_to)
    msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: no responder answers this
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(answer.text)
    return msg


async def send_answer(answer: Answer, settings: Settings) -> bool:
    """Send ``answer`` from the null return path; False if the server refused or was down."""
    data = answer_message(answer, settings).as_bytes(policy=policy.SMTP)
    signer = DkimSigner.for_settings(settings)  # every message we send is signed
    if signer is not None:
        data = signer.sign(data)
    try:
        smtp = await open_connection(settings, tls_context(settings))
    except (Unusable, aiosmtplib.SMTPException, OSError) as exc:
        log.warning("inbound.answer_not_sent", why=answer.why, error=type(exc).__name__)
        return False
    try:
        await smtp.sendmail("", [answer.to], data)
    except (aiosmtplib.SMTPException, OSError) as exc:
        log.warning("inbound.answer_not_sent", why=answer.why, error=type(exc).__name__)
        return False
    finally:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()
    log.info("inbound.answered", why=answer.why)
    return True
