"""Render a campaign's template for one participant and build a standards-clean message.

Templates live in ``mail/templates/<language>/<kind>.j2`` with three blocks: ``subject``,
``text`` and ``html``. A participant gets their own language where a translation exists and
English otherwise.

A campaign to 300,000 people cannot afford the ``email`` package's generator (about 4 ms a
message: Jinja2 rendering, ``EmailMessage`` assembly, flattening). ``Composer`` renders each
language once with placeholders for the only per-person values (the name and the unsubscribe
link), checks on the first recipients of each language that substituting them gives exactly
what a full rendering gives (otherwise it renders every message of that language in full),
and writes the MIME structure directly: RFC 2047 encoded-words for non-ASCII header values,
quoted-printable or base64 bodies (whichever is shorter), CRLF line ends, a boundary that
cannot occur in either encoding. Each message costs tens of microseconds. Header values are
reduced to one line without control characters first, so a name or a subject with CR/LF can
never start a header of its own.
"""

from __future__ import annotations

import base64
import binascii
import email
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from markupsafe import Markup, escape

from mail.calendar import meeting_ics
from models.plan import MeetingPlan
from models.vocab import Language
from models.wire import CampaignRequest, MessageKind

TEMPLATES = Path(__file__).parent / "templates"
_LANGS = {lang.value for lang in Language}
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")
# Everything that has no place in a header value: C0 controls (CR, LF, TAB...), DEL, and the
# Unicode line and paragraph separators.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
# What a body may not contain: C0 controls but TAB and LF (CR is a line end), and DEL.
_BODY_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+")

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
    return (
        str(module.subject).strip(),
        body_text(str(module.text)).strip(),
        body_text(str(module.html)).strip(),
    )


def body_text(text: str) -> str:
    """``text`` fit for a message body: LF line ends, and no control character but TAB and LF
    (a NUL, say from a registry row, has no place in a 7bit body: RFC 2045 forbids it)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BODY_CONTROLS.sub("", text)


def meeting_text(meeting: MeetingPlan) -> str:
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


def meeting_html(meeting: MeetingPlan) -> Markup:
    """The same as ``meeting_text``, as an escaped HTML paragraph."""
    lines = [escape(line) for line in meeting_text(meeting).splitlines()]
    lines[0] = Markup("<strong>{}</strong>").format(lines[0])
    return Markup("<p>") + Markup("<br>\n").join(lines) + Markup("</p>")


def header_value(text: str) -> str:
    """``text`` as one header-safe line: control characters (CR and LF first) become spaces."""
    return _CONTROLS.sub(" ", text).strip()


# -- Headers ----------------------------------------------------------------------------------

_MAX_LINE = 78  # RFC 5322: lines SHOULD be at most 78 characters (and MUST be at most 998)
_MAX_WORD = _MAX_LINE - 1  # the longest word that fits a line after its folding space
_WORD_BYTES = 42  # UTF-8 bytes per encoded-word: "=?utf-8?b?" + 56 + "?=" stays under 75


def _encoded(text: str) -> list[str]:
    """``text`` as RFC 2047 ``B`` encoded-words, split on character boundaries."""
    data = text.encode("utf-8")
    words = []
    i = 0
    while i < len(data):
        j = min(i + _WORD_BYTES, len(data))
        while j < len(data) and (data[j] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            j -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[i:j]).decode('ascii')}?=")
        i = j
    return words


def encoded_words(text: str) -> str:
    """``text`` as RFC 2047 ``B`` encoded-words, split on character boundaries and folded."""
    return "\r\n ".join(_encoded(text))


def _fold_tokens(name: str, tokens: list[str]) -> str:
    """``Name: token token ...``, folded between tokens so that lines are at most 78
    characters wherever the tokens allow. The first token stays on the first line (parsers
    keep the space of a fold right after the colon in the value); a token too long for a line
    gets one of its own. Tokens are never longer than 998."""
    line = f"{name}:"
    head = line
    lines: list[str] = []
    for token in tokens:
        if len(line) + 1 + len(token) <= _MAX_LINE or line == head:
            line += " " + token
        else:
            lines.append(line)
            line = " " + token
    lines.append(line)
    return "\r\n".join(lines)


def _fold(name: str, value: str) -> str:
    """``Name: value`` folded at spaces to lines of at most 78 characters where possible."""
    line = f"{name}: {value}"
    if len(line) <= _MAX_LINE:
        return line
    return _fold_tokens(name, value.split(" "))


def _plain(word: str) -> bool:
    """Whether a word can stand in a header as it is: ASCII, not like an encoded-word, and
    short enough for a line (a longer one is encoded: encoded-words can be split anywhere)."""
    return word.isascii() and "=?" not in word and len(word) <= _MAX_WORD


def unstructured_header(name: str, value: str) -> str:
    """A Subject-like header (no trailing CRLF), injection-proof, every line at most 78
    characters: words that cannot stay as they are (non-ASCII, too long to fold) become
    encoded-words, runs of them together so that decoders give the spaces back."""
    value = header_value(value)
    words = value.split(" ")
    first_room = _MAX_LINE - len(name) - 2  # what fits after "Name: "
    if len(words[0]) <= first_room and all(_plain(word) for word in words):
        return _fold(name, value)
    tokens: list[str] = []
    run: list[str] = []
    for i, word in enumerate(words):
        if _plain(word) and (i or len(word) <= first_room):
            if run:
                tokens += _encoded(" ".join(run))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens += _encoded(" ".join(run))
    return _fold_tokens(name, tokens)


# Words of a display name that may stay as they are (RFC 5322 atoms, never "=?").
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/?^_`{|}~]+")
# Display names with any of these are quoted (as ``email.utils.formataddr`` does).
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
_ESCAPES = re.compile(r'[\\"]')


def _phrase(display_name: str) -> list[str]:
    """A display name as header tokens: plain atoms stay, runs of other words (non-ASCII,
    specials, too long for a line) become encoded-words (as the ``email`` package itself
    does), so every RFC 2047 decoder gives the name back with its spaces."""
    tokens: list[str] = []
    run: list[str] = []
    for word in display_name.split(" "):
        if _ATOM.fullmatch(word) and _plain(word):
            if run:
                tokens += _encoded(" ".join(run))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens += _encoded(" ".join(run))
    return tokens


def address_header(name: str, display_name: str, addr: str) -> str:
    """``To: Display Name <addr>``: the name quoted or encoded, never able to break the line.

    ``addr`` may be non-ASCII (an internationalised address, RFC 6532): it is written as it is,
    in UTF-8, and such a message must go out with SMTPUTF8."""
    display_name = " ".join(header_value(display_name).split())
    addr = header_value(addr)
    if not display_name:
        return _fold(name, addr)
    fits = len(display_name) < _MAX_WORD - 1 or all(
        len(word) < _MAX_WORD - 1 for word in display_name.split()
    )  # a quoted word too long for a line is encoded instead
    if display_name.isascii() and fits:
        if _SPECIALS.search(display_name):
            display_name = '"' + _ESCAPES.sub(r"\\\g<0>", display_name) + '"'
        return _fold(name, f"{display_name} <{addr}>")
    return _fold_tokens(name, [*_phrase(display_name), f"<{addr}>"])


class _DateHeader:
    """``Date:`` in RFC 5322 form, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._line = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._line = f"Date: {formatdate(now, localtime=True)}"
        return self._line


_date_header = _DateHeader()


# -- Bodies -----------------------------------------------------------------------------------


def _base64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + b"\n"


def _text_part(subtype: str, text: str, prefer: list[str]) -> bytes:
    """One ``text/*`` part (headers and body, CRLF line ends; the body ends with CRLF).

    7bit when the text is ASCII; otherwise quoted-printable or base64, whichever is shorter
    for the first message that needs one (remembered in ``prefer`` for the next ones).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    data = text.encode("utf-8")
    if data.isascii() and max(map(len, text.split("\n"))) <= 998:
        cte, body = "7bit", data
    elif prefer == ["quoted-printable"]:
        cte, body = "quoted-printable", binascii.b2a_qp(data, istext=True)
    elif prefer == ["base64"]:
        cte, body = "base64", _base64_lines(data)
    else:
        qp = binascii.b2a_qp(data, istext=True)
        b64 = _base64_lines(data)
        cte, body = ("quoted-printable", qp) if len(qp) <= len(b64) else ("base64", b64)
        prefer[:] = [cte]
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    )
    return head.encode("ascii") + body.replace(b"\n", b"\r\n")


def _attachment_part(data: bytes, content_type: str, filename: str) -> bytes:
    head = (
        f"Content-Type: {content_type}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n'
    )
    return head.encode("ascii") + _base64_lines(data).replace(b"\n", b"\r\n")


def _multipart(boundary: str, parts: list[bytes]) -> bytes:
    """The body of a multipart entity: each part after its delimiter, then the close."""
    delimiter = f"--{boundary}\r\n".encode("ascii")
    body = b"".join(delimiter + part + b"\r\n" for part in parts)
    return body + f"--{boundary}--\r\n".encode("ascii")


# -- Messages ---------------------------------------------------------------------------------

# Placeholders for the per-person values: private-use characters that Jinja2's escaping and the
# templates leave alone, and that no name can contain (they are refused in ``_fast``).
_NAME = "\ue000name\ue001"
_UNSUBSCRIBE = "\ue000unsubscribe\ue001"
_PLACEHOLDER_MARK = "\ue000"
_CHECKS = 3  # first recipients of each language compared with a full rendering


@dataclass
class _Variant:
    """A campaign's message in one language, rendered once with placeholders."""

    subject: str
    text: str
    html: str
    exact: bool = True  # substitution gives what a full rendering gives
    checked: int = 0
    subject_line: str | None = None  # the Subject header, when it has no placeholder
    text_encoding: list[str] = field(default_factory=list)  # chosen transfer encodings
    html_encoding: list[str] = field(default_factory=list)

    def fill(self, name: str, unsubscribe: str) -> tuple[str, str, str]:
        html_name, html_unsubscribe = str(escape(name)), str(escape(unsubscribe))
        return (
            self.subject.replace(_NAME, name).replace(_UNSUBSCRIBE, unsubscribe),
            self.text.replace(_NAME, name).replace(_UNSUBSCRIBE, unsubscribe),
            self.html.replace(_NAME, html_name).replace(_UNSUBSCRIBE, html_unsubscribe),
        )


@dataclass
class Composer:
    """Builds every message of one campaign; see the module docstring.

    ``message_bytes`` returns the message ready for SMTP ``DATA`` (CRLF line ends).
    """

    request: CampaignRequest
    sender: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    extra: dict[str, Any] | None = None
    _variants: dict[str, _Variant] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        request = self.request
        sender_name, sender_addr = parseaddr(header_value(self.sender))
        self.sender_address = sender_addr or header_value(self.sender)
        self.domain = self.sender_address.rsplit("@", 1)[-1] or "wsis.local"
        self.bulk = request.kind in BULK_KINDS
        self._from_line = address_header("From", sender_name, self.sender_address)
        self._campaign_line = unstructured_header("X-WSIS-Campaign", request.key)
        self._mailto = header_value(self.unsubscribe_mailto)
        # "=_" never occurs in quoted-printable or base64 text: the boundary cannot collide.
        token = secrets.token_hex(12)
        self._alternative = f"=_wsis_alt_{token}"
        self._mixed = f"=_wsis_mix_{token}"
        # Folded before the boundary parameter: 83 characters on one line.
        self._alternative_type = _fold(
            "Content-Type", f'multipart/alternative; boundary="{self._alternative}"'
        )
        self._mixed_type = _fold("Content-Type", f'multipart/mixed; boundary="{self._mixed}"')
        self._attachment: bytes | None = None
        if request.meeting is not None and request.kind in {
            MessageKind.MEETING_INVITATION,
            MessageKind.MEETING_UPDATE,
        }:
            ics = meeting_ics(request, organizer=self.sender)
            self._attachment = _attachment_part(
                ics, 'text/calendar; charset="utf-8"; method="PUBLISH"', "invite.ics"
            )

    # The context every template sees.
    def context(self, language: str, name: str, unsubscribe: str) -> dict[str, Any]:
        return {
            "request": self.request,
            "name": name,
            "language": language,
            "rtl": Language(language).right_to_left,
            "unsubscribe": unsubscribe,
            **(self.extra or {}),
        }

    def _variant(self, language: str) -> _Variant:
        variant = self._variants.get(language)
        if variant is None:
            subject, text, html = render(
                self.request.kind, language, self.context(language, _NAME, _UNSUBSCRIBE)
            )
            variant = _Variant(subject, text, html)
            if _PLACEHOLDER_MARK not in subject:
                variant.subject_line = unstructured_header("Subject", subject)
            self._variants[language] = variant
        return variant

    def content(self, recipient: Recipient) -> tuple[str, str, str, str]:
        """Language, subject, plain text and HTML for ``recipient``."""
        language = recipient.language if recipient.language in _LANGS else Language.EN.value
        # Stripped here as render() strips the templates: the fast path and a full rendering
        # stay equal, and no control character reaches a body.
        name = one_line(recipient.name)
        if not name.isprintable():  # rare: isprintable is much cheaper than the regex
            name = _BODY_CONTROLS.sub("", name)
        unsubscribe = self.unsubscribe_url.format(token=recipient.unsubscribe_token)
        variant = self._variant(language)
        fast = (
            variant.exact
            and name
            and _PLACEHOLDER_MARK not in name
            and _PLACEHOLDER_MARK not in unsubscribe
        )
        if fast:
            filled = variant.fill(name, unsubscribe)
            if variant.checked >= _CHECKS:
                return (language, *filled)
            full = render(self.request.kind, language, self.context(language, name, unsubscribe))
            variant.checked += 1
            if filled != full:
                variant.exact = False  # this template uses the values otherwise: render all
            return (language, *full)
        return (
            language,
            *render(self.request.kind, language, self.context(language, name, unsubscribe)),
        )

    def message_bytes(self, recipient: Recipient, *, message_id: str | None = None) -> bytes:
        """The whole message for ``recipient``, CRLF line ends, ready for SMTP ``DATA``."""
        language, subject, text, html = self.content(recipient)
        variant = self._variants[language]
        subject_line = (
            variant.subject_line
            if variant.exact and variant.subject_line is not None
            else unstructured_header("Subject", subject)
        )
        message_id = message_id or make_msgid(
            idstring=str(recipient.participant_id), domain=self.domain
        )
        lines = [
            subject_line,
            self._from_line,
            address_header("To", recipient.name, recipient.email),
            _date_header(),  # aiosmtplib adds neither Date nor Message-ID
            f"Message-ID: {header_value(message_id)}",
            self._campaign_line,
        ]
        if self.bulk:  # RFC 2369 and RFC 8058 one-click unsubscription
            unsubscribe = header_value(
                self.unsubscribe_url.format(token=recipient.unsubscribe_token)
            )
            lines += [
                _fold("List-Unsubscribe", f"<{unsubscribe}>, <mailto:{self._mailto}>"),
                "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                "Precedence: bulk",
            ]
        alternative = _multipart(
            self._alternative,
            [
                _text_part("plain", text, variant.text_encoding),
                _text_part("html", html, variant.html_encoding),
            ],
        )
        if self._attachment is None:
            content_type = self._alternative_type
            body = alternative
        else:
            content_type = self._mixed_type
            inner = (self._alternative_type + "\r\n\r\n").encode("ascii") + alternative
            body = _multipart(self._mixed, [inner, self._attachment])
        lines += ["MIME-Version: 1.0", content_type, f"Content-Language: {language}"]
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8") + body

    def message(self, recipient: Recipient, *, message_id: str | None = None) -> EmailMessage:
        """The same message, parsed back into an ``EmailMessage``."""
        data = self.message_bytes(recipient, message_id=message_id)
        return email.message_from_bytes(data, policy=policy.default)


def compose(
    request: CampaignRequest,
    recipient: Recipient,
    *,
    sender: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str,
    extra: dict[str, Any] | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """The message of ``request`` for ``recipient``: headers, text, HTML and any ``.ics``.

    One message; a campaign uses one ``Composer`` for all its recipients.
    """
    composer = Composer(request, sender, unsubscribe_url, unsubscribe_mailto, extra)
    return composer.message(recipient, message_id=message_id)
