"""What a stored message changes: the dispatcher of the inbound service.

The envelope recipient says what a message is for (``Routes``): the VERP return path (a
bounce, or a feedback report), the ``List-Unsubscribe`` mailto address, the OCP address.
Feedback reports (RFC 5965) are recognised by their content wherever they arrive. Every
effect is idempotent (the caller processes a stored message once, and again only after a
crash), and nothing here logs or returns personal data: the outcome is a word.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from urllib.parse import unquote

from sqlalchemy.engine import Engine

from core.settings import Settings
from intake.preferences import unsubscribe, unsubscribe_owner
from mail.inbound.classify import bounce_of, feedback_original, is_auto_reply, is_report
from mail.inbound.standing import complain, outbox_recipient, record_bounce
from mail.inbound.submissions import Submitted, submit_by_mail
from mail.signing import DnsFunc
from mail.tokens import mail_key, read_token, split_address
from models.tables import Participant

_p = Participant.__table__  # type: ignore[attr-defined]
# A computed token (``<id>.<HMAC>``, intake.tokens) or one issued before migration 0011.
_UNSUBSCRIBE_URL = re.compile(r"/unsubscribe/([A-Za-z0-9_.-]{8,64})")
_UNSUBSCRIBE_WORD = re.compile(r"unsubscribe(?:\s|%20)+([A-Za-z0-9_.-]{8,64})", re.IGNORECASE)


class Routes:
    """Our own addresses, as the settings name them, and what each one is for."""

    def __init__(self, settings: Settings, dnsfunc: DnsFunc | None = None) -> None:
        self.settings = settings
        self.key = mail_key(settings)
        self.portal_key = settings.portal_key()  # unsubscribe tokens are keyed with it
        self.dnsfunc = dnsfunc
        self.bounce = (settings.bounce_localpart.lower(), settings.bounce_domain.lower())
        self.unsubscribe = split_address(settings.unsubscribe_mailto)
        self.ocp = split_address(settings.ocp_address) if settings.ocp_address else None

    def role(self, address: str) -> tuple[str, str] | None:
        """(``bounce``, ``unsubscribe`` or ``ocp``; the ``+detail``) of one of our addresses."""
        local, detail, domain = split_address(address)
        if self.bounce[1] and (local, domain) == self.bounce:
            return "bounce", detail
        if (local, domain) == (self.unsubscribe[0], self.unsubscribe[2]):
            return "unsubscribe", detail
        if self.ocp and (local, domain) == (self.ocp[0], self.ocp[2]):
            return "ocp", detail
        return None


@dataclass
class Outcome:
    """The outcome word, and what is still to send (an answer, an acknowledgement)."""

    outcome: str
    submitted: Submitted | None = None


def parse_fast(raw: bytes) -> Message:
    """The message, parsed with the ``compat32`` policy: ten times faster than the modern
    one on a multipart DSN (whose headers the modern policy parses one by one), and all that
    routing, bounces and feedback reports need."""
    return email.message_from_bytes(raw)


def parse(raw: bytes) -> EmailMessage:
    """The message, parsed with the modern policy (submissions: bodies, attachments)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def _verp_participant(engine: Engine, routes: Routes, address: str) -> tuple[int, str] | None:
    role = routes.role(address)
    if role is None or role[0] != "bounce" or not role[1]:
        return None
    token = read_token(routes.key, "b", role[1])
    return outbox_recipient(engine, token[0]) if token else None


def _complainant(engine: Engine, routes: Routes, original: Message, rcpt: list[str]) -> int | None:
    """Who a feedback report is about: the original's return path (our VERP token), then
    its List-Unsubscribe token, then the report's own envelope recipient."""
    for address in [str(original.get("Return-Path", "")), *rcpt]:
        found = _verp_participant(engine, routes, address)
        if found:
            return found[0]
    header = unquote(str(original.get("List-Unsubscribe", "")))
    for pattern in (_UNSUBSCRIBE_URL, _UNSUBSCRIBE_WORD):
        match = pattern.search(header)
        if match:
            found_id = unsubscribe_owner(engine, routes.portal_key, match.group(1))
            if found_id is not None:
                return found_id
    return None


def process(
    engine: Engine, routes: Routes, inbound_id: int, mail_from: str, rcpt: list[str], raw: bytes
) -> Outcome:
    """Apply stored message ``inbound_id``; see the module docstring."""
    msg = parse_fast(raw)
    original = feedback_original(msg)
    if original is not None:
        participant = _complainant(engine, routes, original, rcpt)
        if participant is None:
            return Outcome("complaint-unmatched")
        complain(engine, participant)
        return Outcome("complaint")
    for address in rcpt:
        role = routes.role(address)
        if role is None:
            continue
        what, detail = role
        if what == "bounce":
            return _bounce(engine, routes, inbound_id, address, msg, raw)
        if what == "unsubscribe":
            text = f"{msg.get('Subject', '')}\n{_first_text(msg)}"
            match = _UNSUBSCRIBE_WORD.search(text)
            if match and unsubscribe(engine, routes.portal_key, match.group(1)):
                return Outcome("unsubscribe")
            return Outcome("unsubscribe-unknown")
        submitted = submit_by_mail(
            engine, routes.settings, routes.key, detail, mail_from, msg, raw,
            dnsfunc=routes.dnsfunc,
        )  # fmt: skip
        return Outcome(submitted.outcome, submitted)
    return Outcome("ignored")


def _bounce(
    engine: Engine, routes: Routes, inbound_id: int, address: str, msg: Message, raw: bytes
) -> Outcome:
    found = _verp_participant(engine, routes, address)
    bounce = bounce_of(msg)
    if bounce is None:
        if is_report(msg, "delivery-status"):
            return Outcome("dsn-no-failure")  # delays, relays: nothing failed yet
        return Outcome("auto-reply" if is_auto_reply(msg) else "ignored")
    if found is None:
        return Outcome("bounce-unmatched")
    participant, campaign = found
    suspended = record_bounce(engine, routes.settings, inbound_id, participant, campaign, bounce)
    return Outcome(f"bounce-{bounce.kind.value}" + ("-suspended" if suspended else ""))


def _first_text(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload[:2000].decode("utf-8", "replace")
    return ""
