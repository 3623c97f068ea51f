"""Render a campaign's template for one participant and build a standards-clean message.

Templates live in ``mail/templates/<language>/<kind>.j2`` with three blocks: ``subject``,
``text`` and ``html``. A participant gets their own language where a translation exists and
English otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from markupsafe import Markup, escape

from mail.calendar import meeting_ics
from models.cycle import Meeting
from models.vocab import Language
from models.wire import CampaignRequest, MessageKind

TEMPLATES = Path(__file__).parent / "templates"
_LANGS = {lang.value for lang in Language}
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")

# Kinds that go to a whole community list: they carry List-Unsubscribe (RFC 2369/8058).
BULK_KINDS = {
    MessageKind.OCP_OPENING,
    MessageKind.MEETING_INVITATION,
    MessageKind.MEETING_REMINDER,
    MessageKind.MEETING_UPDATE,
    MessageKind.OCP_DEADLINE_REMINDER,
    MessageKind.OCP_ANALYSIS,
    MessageKind.OCP_FINAL_BRIEF,
    MessageKind.DEADLINE_CHANGED,
    MessageKind.PROCESS_CANCELLED,
    MessageKind.PRIZE_OPENING,
    MessageKind.PRIZE_SUBMISSION_REMINDER,
    MessageKind.PRIZE_VOTING_OPEN,
    MessageKind.PRIZE_CHAMPIONS,
    MessageKind.PRIZE_WINNERS,
}


@dataclass(frozen=True)
class Recipient:
    """The personal data a message needs; read from the database inside the activity."""

    participant_id: int
    email: str
    name: str
    language: str
    unsubscribe_token: str


def one_line(text: str) -> str:
    """Collapse line breaks so a value can never start a new header (header injection)."""
    return _LINE_BREAKS.sub(" ", text).strip()


def local_time(when: datetime, zone: str) -> str:
    """``Monday 20 February 2017, 23:59 CET (22:59 UTC)``: how participants read a date."""
    local = when.astimezone(ZoneInfo(zone))
    utc = when.astimezone(ZoneInfo("UTC"))
    return f"{local:%A %d %B %Y, %H:%M} {local.tzname()} ({utc:%H:%M} UTC)"


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        # Off by default: subject and text are plain text; each template turns it on for html.
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = local_time
    env.filters["meeting_text"] = meeting_text
    env.filters["meeting_html"] = meeting_html
    return env


def _template_for(kind: str, language: str) -> Any:
    env = environment()
    try:
        return env.get_template(f"{language}/{kind}.j2")
    except TemplateNotFound:
        return env.get_template(f"{Language.EN.value}/{kind}.j2")


def render(kind: str, language: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, plain text and HTML of ``kind`` in ``language`` (English as the fallback).

    A template exports three ``{% set %}`` blocks; only ``html`` turns on autoescaping.
    """
    module = _template_for(kind, language).make_module(context)
    return (str(module.subject).strip(), str(module.text).strip(), str(module.html).strip())


def meeting_text(meeting: Meeting) -> str:
    """A meeting's title, local time, place and remote link, as plain text lines."""
    where = "online only" if meeting.virtual_only else meeting.venue
    lines = [
        meeting.title,
        f"When: {local_time(meeting.starts, meeting.timezone)} to "
        f"{local_time(meeting.ends, meeting.timezone)}",
        f"Where: {where}",
    ]
    if meeting.remote_url:
        lines.append(f"Remote participation: {meeting.remote_url}")
    return "\n".join(lines)


def meeting_html(meeting: Meeting) -> Markup:
    """The same as ``meeting_text``, as an escaped HTML paragraph."""
    lines = [escape(line) for line in meeting_text(meeting).splitlines()]
    lines[0] = Markup("<strong>{}</strong>").format(lines[0])
    return Markup("<p>") + Markup("<br>\n").join(lines) + Markup("</p>")


def compose(
    request: CampaignRequest,
    recipient: Recipient,
    *,
    sender: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str,
    extra: dict[str, Any] | None = None,
) -> EmailMessage:
    """The message of ``request`` for ``recipient``: headers, text, HTML and any ``.ics``."""
    language = recipient.language if recipient.language in _LANGS else Language.EN.value
    context: dict[str, Any] = {
        "request": request,
        "name": one_line(recipient.name),
        "language": language,
        "rtl": Language(language).right_to_left,
        "unsubscribe": unsubscribe_url.format(token=recipient.unsubscribe_token),
        **(extra or {}),
    }
    subject, text, html = render(request.kind, language, context)

    msg = EmailMessage()
    msg["Subject"] = one_line(subject)
    msg["From"] = sender
    msg["To"] = Address(display_name=one_line(recipient.name), addr_spec=recipient.email)
    # aiosmtplib adds neither Date nor Message-ID.
    msg["Date"] = format_datetime(datetime.now().astimezone())
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "wsis.local"
    msg["Message-ID"] = make_msgid(idstring=f"{recipient.participant_id}", domain=domain)
    msg["X-WSIS-Campaign"] = one_line(request.key)
    if request.kind in BULK_KINDS:
        unsubscribe = unsubscribe_url.format(token=recipient.unsubscribe_token)
        msg["List-Unsubscribe"] = f"<{unsubscribe}>, <mailto:{unsubscribe_mailto}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Precedence"] = "bulk"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if request.meeting is not None and request.kind in {
        MessageKind.MEETING_INVITATION,
        MessageKind.MEETING_UPDATE,
    }:
        ics = meeting_ics(request, organizer=sender)
        msg.add_attachment(
            ics,
            maintype="text",
            subtype="calendar",
            filename="invite.ics",
            params={"method": "PUBLISH"},
        )
    # After the body: set_content() would drop Content-* headers set before it.
    msg["Content-Language"] = language
    return msg
