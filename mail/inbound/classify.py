"""What a message that came back is: an auto-reply, a bounce (and how bad), a complaint.

Bounces: RFC 3464 delivery status notifications are read with the standard library (the
status code of each failed recipient); the other formats (qmail, Exim, Yahoo, Exchange, ...)
with Mailman's detectors (``flufl.bounce``), which say permanent or temporary. A "no such
mailbox" (status 5.1.x, or the words of one) suspends at once; a full mailbox or a 4.x.x is
soft. Auto-replies (RFC 3834 ``Auto-Submitted``, vacation notices) are never bounces.
"""

from __future__ import annotations

import email
import logging
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message

from flufl.bounce import all_failures

from models.tables import BounceKind

# Mailman's detectors log what they find (addresses among it): never into our logs.
logging.getLogger("flufl.bounce").disabled = True

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_NO_MAILBOX = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient)|does not exist|"
    r"doesn't have a .{1,40} account|mailbox unavailable|recipient rejected|invalid recipient|"
    r"address rejected|not our customer|mailbox not found",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|vacation|"
    r"absence|r[ée]ponse automatique|abwesenheit|away from)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Bounce:
    """A failed delivery: how bad, and the DSN status code when there is one."""

    kind: BounceKind
    status: str = ""


def is_auto_reply(msg: Message) -> bool:
    """An automatic answer (RFC 3834, and the common non-standard marks), not a person."""
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if str(msg.get("Precedence", "")).strip().lower() in ("auto_reply", "bulk", "junk", "list"):
        return True
    return is_vacation(msg)


def subject_of(msg: Message) -> str:
    """The Subject, its RFC 2047 encoded-words decoded (compat32 leaves them as they are)."""
    value = msg.get("Subject", "")
    try:
        return str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError):  # a malformed encoded-word
        return str(value)


def is_vacation(msg: Message) -> bool:
    """A vacation or out-of-office notice."""
    if any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond")):
        return True
    return bool(_AUTO_SUBJECT.match(subject_of(msg)))


def _kind_of(status: str) -> BounceKind:
    klass, subject, detail = status.split(".")
    if klass == "4" or (subject == "2" and detail == "2"):  # temporary, or a full mailbox
        return BounceKind.SOFT
    if subject == "1":
        return BounceKind.MAILBOX
    return BounceKind.HARD


_WORST = {BounceKind.MAILBOX: 3, BounceKind.HARD: 2, BounceKind.SOFT: 1}


def _dsn(msg: Message) -> Bounce | None:
    """The worst failure of an RFC 3464 report; None if it reports none (delays, relays)."""
    found: Bounce | None = None
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:  # the first block is about the message, then one per recipient
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action", "")).strip().lower()
            if action != "failed":
                continue  # delayed, delivered, relayed, expanded: not a failure
            match = _STATUS.search(str(block.get("Status", "")))
            status = ".".join(match.groups()) if match else "5.0.0"
            bounce = Bounce(_kind_of(status), status)
            if found is None or _WORST[bounce.kind] > _WORST[found.kind]:
                found = bounce
    return found


def _text(msg: Message, limit: int = 20_000) -> str:
    """The first text parts of ``msg`` (a bounce's human-readable explanation)."""
    out: list[str] = []
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                out.append(payload[:limit].decode("utf-8", "replace"))
        if sum(map(len, out)) >= limit:
            break
    return "\n".join(out)[:limit]


def is_report(msg: Message, report_type: str) -> bool:
    """A ``multipart/report`` of ``report_type`` (``delivery-status``, ``feedback-report``)."""
    return (
        msg.get_content_type() == "multipart/report"
        and str(msg.get_param("report-type", "")).lower() == report_type
    )


def bounce_of(msg: Message) -> Bounce | None:
    """The failure ``msg`` reports, or None when it is no bounce (an auto-reply, a person)."""
    dsn = _dsn(msg)
    if dsn is not None or is_report(msg, "delivery-status"):
        return dsn  # a DSN of delays only is no failure
    # Bounces carry Auto-Submitted too (RFC 3834 5): only a vacation notice is ruled out here.
    if is_vacation(msg):
        return None
    temporary, permanent = all_failures(msg)  # Mailman's detectors read compat32 messages
    if not (temporary or permanent):
        return None
    text = _text(msg)
    match = _STATUS.search(text)
    if permanent:
        if match and match.group(1) == "5":
            status = ".".join(match.groups())
            return Bounce(_kind_of(status), status)
        return Bounce(BounceKind.MAILBOX if _NO_MAILBOX.search(text) else BounceKind.HARD)
    return Bounce(BounceKind.SOFT, ".".join(match.groups()) if match else "")


def feedback_original(msg: Message) -> Message | None:
    """The original message (or its headers) a feedback report (RFC 5965) carries."""
    if not is_report(msg, "feedback-report"):
        return None
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return inner[0]
        if kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return email.message_from_bytes(payload)
    return None
