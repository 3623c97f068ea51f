"""Render a campaign's template for one participant and build a standards-clean message.

One template per message kind (``mail/templates/<kind>.j2``, see ``mail/render.py``),
rendered in the participant's language where the ``mail`` catalog translates every string
of the template and its layout, in English otherwise (``core.i18n.language_for``): the
``Content-Language`` header, ``<html lang>`` and ``dir`` name the language the message is
really written in.

A campaign to 300,000 people cannot afford the ``email`` package's generator (about 4 ms a
message: Jinja2 rendering, ``EmailMessage`` assembly, flattening). ``Composer`` renders each
language once with placeholders for the only per-person values (the name and the unsubscribe
link), checks on the first recipients of each language that substituting them gives exactly
what a full rendering gives (otherwise it renders every message of that language in full),
and writes the MIME structure directly: RFC 2047 encoded-words for non-ASCII header values
(``mail/headers.py``), quoted-printable or base64 bodies (whichever is shorter), CRLF line
ends, a boundary that cannot occur in either encoding. Each message costs tens of
microseconds.

Which kinds are bulk and which transactional (their headers, their sender, who gets them) is
``mail/classes.py``.
"""

from __future__ import annotations

import email
import secrets
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Any
from urllib.parse import quote

from markupsafe import escape

from core import i18n
from core.settings import Settings
from intake.tokens import unsubscribe_token as keyed_unsubscribe_token
from mail.calendar import meeting_ics, sender_name
from mail.classes import BULK_KINDS, TRANSACTIONAL_KINDS
from mail.context import time_left
from mail.headers import (
    address_header,
    date_header,
    fold,
    header_value,
    one_line,
    unstructured_header,
)
from mail.mime import attachment_part, multipart, text_part
from mail.render import (
    BODY_CONTROLS,
    CALENDAR_SOURCE,
    LAYOUT,
    body_text,
    local_time,
    render,
    source,
)
from mail.signing import DkimSigner
from mail.tokens import ReturnAddresses
from models.wire import Audience, CampaignRequest, MessageKind

__all__ = [
    "Composer",
    "Recipient",
    "address_header",
    "body_text",
    "compose",
    "header_value",
    "local_time",
    "one_line",
    "render",
    "unstructured_header",
]

_MEETING_FILES = frozenset({MessageKind.MEETING_INVITATION, MessageKind.MEETING_UPDATE})
_DEFAULT_PORTAL = str(Settings.model_fields["portal_url"].default)


@dataclass(frozen=True)
class Recipient:
    """The personal data a message needs; read from the database inside the activity."""

    participant_id: int
    email: str
    name: str
    language: str
    # Their unsubscribe token's generation: the composer computes the token from it.
    unsubscribe_generation: int = 0


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
    ``Composer.for_settings`` takes the sender, the unsubscribe addresses and the portal's
    URL (every link in a message is built from it) from the settings.
    """

    request: CampaignRequest
    sender: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    extra: dict[str, Any] | None = None
    portal_url: str = _DEFAULT_PORTAL
    # VERP return paths and the OCP's per-recipient Reply-To (mail.tokens), and DKIM.
    returns: ReturnAddresses | None = None
    dkim: DkimSigner | None = None
    # The portal's key: unsubscribe tokens are HMACs under it (intake.tokens), never stored.
    unsubscribe_key: bytes | None = None
    _variants: dict[str, _Variant] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def for_settings(
        cls, request: CampaignRequest, settings: Settings, extra: dict[str, Any] | None = None
    ) -> Composer:
        """The composer of ``request`` as the settings say: transactional kinds from
        ``mail_from_transactional`` when it is set, everything else from ``mail_from``."""
        sender = settings.mail_from
        if request.kind in TRANSACTIONAL_KINDS and settings.mail_from_transactional:
            sender = settings.mail_from_transactional
        return cls(
            request,
            sender,
            settings.unsubscribe_url,
            settings.unsubscribe_mailto,
            extra,
            portal_url=settings.portal_url,
            returns=ReturnAddresses(settings),
            dkim=DkimSigner.for_settings(settings),
            unsubscribe_key=settings.portal_key(),
        )

    def __post_init__(self) -> None:
        request = self.request
        display_name, sender_addr = parseaddr(header_value(self.sender))
        self.sender_address = sender_addr or header_value(self.sender)
        self.domain = self.sender_address.rsplit("@", 1)[-1] or "wsis.local"
        self.bulk = request.kind in BULK_KINDS
        self.portal_url = self.portal_url.rstrip("/")
        self._sender_name = display_name
        self._from_lines: dict[str, str] = {}  # the From header per language
        self._campaign_line = unstructured_header("X-WSIS-Campaign", request.key)
        self._mailto = header_value(self.unsubscribe_mailto)
        # "=_" never occurs in quoted-printable or base64 text: the boundary cannot collide.
        token = secrets.token_hex(12)
        self._alternative = f"=_wsis_alt_{token}"
        self._mixed = f"=_wsis_mix_{token}"
        # Folded before the boundary parameter: 83 characters on one line.
        self._alternative_type = fold(
            "Content-Type", f'multipart/alternative; boundary="{self._alternative}"'
        )
        self._mixed_type = fold("Content-Type", f'multipart/mixed; boundary="{self._mixed}"')
        self._ics = request.meeting is not None and request.kind in _MEETING_FILES
        # What the message is made of: a language is used only if it translates all of it.
        self._sources = (source(f"{request.kind}.j2"), source(LAYOUT)) + (
            (CALENDAR_SOURCE,) if self._ics else ()
        )
        self._languages: dict[str, str] = {}
        self._attachments: dict[str, bytes] = {}
        self._reminder = time_left(request)

    def language(self, wanted: str) -> str:
        """The language ``wanted``'s messages are written in: ``wanted`` where the catalog
        translates every string of the template, its layout (and the ``.ics``), else English."""
        language = self._languages.get(wanted)
        if language is None:
            language = i18n.language_for(wanted, "mail", *self._sources)
            self._languages[wanted] = language
        return language

    # The context every template sees.
    def context(self, language: str, name: str, unsubscribe: str) -> dict[str, Any]:
        """What a template sees: the request, the recipient's name and unsubscribe link, the
        language and its direction, the portal's URL, the reminder's time left, and the
        kind's own values (``extra``: figures, projects, a sign-in link)."""
        return {
            "request": self.request.in_language(language),  # its title in their language
            "name": name,
            "language": language,
            "dir": i18n.direction(language),
            "rtl": language in i18n.RTL,
            "unsubscribe": unsubscribe,
            "portal_url": self.portal_url,
            "bulk": self.bulk,
            **self._reminder,
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

    def _attachment(self, language: str) -> bytes | None:
        """The meeting's ``.ics`` in ``language`` (one per language of the campaign)."""
        if not self._ics:
            return None
        part = self._attachments.get(language)
        if part is None:
            ics = meeting_ics(self.request, organizer=self.sender, language=language)
            part = attachment_part(
                ics, 'text/calendar; charset="utf-8"; method="PUBLISH"', "invite.ics"
            )
            self._attachments[language] = part
        return part

    def content(self, recipient: Recipient) -> tuple[str, str, str, str]:
        """Language (the one it is written in), subject, plain text and HTML for
        ``recipient``."""
        language = self.language(recipient.language)
        # Stripped here as render() strips the templates: the fast path and a full rendering
        # stay equal, and no control character reaches a body.
        name = one_line(recipient.name)
        if not name.isprintable():  # rare: isprintable is much cheaper than the regex
            name = BODY_CONTROLS.sub("", name)
        unsubscribe = self.unsubscribe_url.format(token=self.unsubscribe_token(recipient))
        if self.request.audience is Audience.ONE_PARTICIPANT:
            # A campaign of one (an acknowledgement, a receipt): rendered once, for them; its
            # variant only keeps the transfer encodings message_bytes chooses.
            rendered = render(
                self.request.kind, language, self.context(language, name, unsubscribe)
            )
            self._variants[language] = _Variant(*rendered, exact=False)
            return (language, *rendered)
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

    def _from_line(self, language: str) -> str:
        """The From header for a message in ``language`` (``mail.calendar.sender_name``)."""
        line = self._from_lines.get(language)
        if line is None:
            name = sender_name(self._sender_name, language)
            line = self._from_lines[language] = address_header("From", name, self.sender_address)
        return line

    def unsubscribe_token(self, recipient: Recipient) -> str:
        """``recipient``'s unsubscribe token, computed under the portal's key; a composer
        without the key has none to give (only transactional mail, which carries no link)."""
        if self.unsubscribe_key is None:
            if self.bulk:
                raise ValueError("bulk mail needs the portal key for its unsubscribe links")
            return ""
        return keyed_unsubscribe_token(
            self.unsubscribe_key, recipient.participant_id, recipient.unsubscribe_generation
        )

    def list_unsubscribe(self, recipient: Recipient) -> str:
        """The ``List-Unsubscribe`` value (RFC 2369): the portal's one-click link, and a
        ``mailto:`` whose subject carries the participant's token, so that a request made by
        mail can be matched to its participant."""
        secret = self.unsubscribe_token(recipient)
        url = header_value(self.unsubscribe_url.format(token=secret))
        token = quote(header_value(secret), safe="")
        return f"<{url}>, <mailto:{self._mailto}?subject=unsubscribe%20{token}>"

    def return_path(self, outbox_id: int) -> str:
        """The envelope sender of outbox row ``outbox_id``: its VERP address for bulk mail
        when VERP is configured (bounces then name the row), else the From address."""
        if self.bulk and self.returns is not None:
            return self.returns.verp(outbox_id) or self.sender_address
        return self.sender_address

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
            self._from_line(language),
            address_header("To", recipient.name, recipient.email),
            date_header(),  # aiosmtplib adds neither Date nor Message-ID
            f"Message-ID: {header_value(message_id)}",
            self._campaign_line,
        ]
        if self.request.kind is MessageKind.OCP_OPENING and self.returns is not None:
            reply_to = self.returns.reply(recipient.participant_id, self.request.key)
            if reply_to:  # a reply is an official submission (mail.inbound.submissions)
                lines.append(fold("Reply-To", reply_to))
        if self.bulk:  # RFC 2369 and RFC 8058 one-click unsubscription
            lines += [
                fold("List-Unsubscribe", self.list_unsubscribe(recipient)),
                "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                "Precedence: bulk",
            ]
        alternative = multipart(
            self._alternative,
            [
                text_part("plain", text, variant.text_encoding),
                text_part("html", html, variant.html_encoding),
            ],
        )
        attachment = self._attachment(language)
        if attachment is None:
            content_type = self._alternative_type
            body = alternative
        else:
            content_type = self._mixed_type
            inner = (self._alternative_type + "\r\n\r\n").encode("ascii") + alternative
            body = multipart(self._mixed, [inner, attachment])
        lines += ["MIME-Version: 1.0", content_type, f"Content-Language: {language}"]
        head = "\r\n".join(lines) + "\r\n\r\n"
        data = head.encode("utf-8") + body
        return self.dkim.sign(data) if self.dkim is not None else data

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
    portal_url: str = _DEFAULT_PORTAL,
    unsubscribe_key: bytes | None = None,
) -> EmailMessage:
    """The message of ``request`` for ``recipient``: headers, text, HTML and any ``.ics``.

    One message; a campaign uses one ``Composer`` for all its recipients.
    """
    composer = Composer(
        request,
        sender,
        unsubscribe_url,
        unsubscribe_mailto,
        extra,
        portal_url=portal_url,
        unsubscribe_key=unsubscribe_key,
    )
    return composer.message(recipient, message_id=message_id)
