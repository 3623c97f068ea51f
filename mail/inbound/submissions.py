"""Official OCP submissions by e-mail, through the same intake function as the portal.

Two ways in, both for verified participants while the OCP window is open:

* a reply to the OCP opening announcement: its ``Reply-To`` is the OCP address with a signed
  token (``mail.tokens``) naming the participant and the announcement, so the reply proves
  that it comes from the mailbox the announcement reached;
* a message to the OCP address itself, from an address whose mail passes DMARC alignment: a
  valid DKIM signature of the From domain (``mail.signing``), or ``dmarc=pass`` in an
  ``Authentication-Results`` header added by our own MX (``WSIS_INBOUND_AUTHSERV_ID``).

Quoted text and signatures are stripped (``email_reply_parser``); attachments are refused
politely; the window check is intake's own (``record_submission``), in the writing
transaction. Anything else gets one clear answer (``mail.inbound.answers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import Any

import authres
import sqlalchemy as sa
from email_reply_parser import EmailReplyParser
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from core.settings import Settings
from intake.ocp import OcpForm, record_submission
from intake.windows import Refused
from mail.inbound.answers import Answer, answer_for
from mail.inbound.classify import is_auto_reply, is_report, subject_of
from mail.signing import DnsFunc, aligned_signer
from mail.tokens import campaign_tag, read_token
from models.tables import Campaign, OcpSubmission, Participant, Window, WindowKind
from models.wire import CampaignRequest, MessageKind

_p = Participant.__table__  # type: ignore[attr-defined]
_campaign = Campaign.__table__  # type: ignore[attr-defined]
_window = Window.__table__  # type: ignore[attr-defined]
_ocp = OcpSubmission.__table__  # type: ignore[attr-defined]


@dataclass
class Submitted:
    """What became of a message to the OCP address."""

    outcome: str
    answer: Answer | None = None
    ack: CampaignRequest | None = None


def is_automatic(msg: Message, mail_from: str) -> bool:
    """Mail never answered: a null sender, an auto-reply, a report, a mailing list."""
    return (
        not mail_from
        or is_auto_reply(msg)
        or msg.get_content_type() == "multipart/report"
        or is_report(msg, "delivery-status")
        or bool(msg.get("List-Id"))
    )


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def has_attachments(msg: Message) -> bool:
    """Whether any part is an attachment or not text (an image, a zip: never opened)."""
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment" or part.get_filename():
            return True
        if part.get_content_type() not in ("text/plain", "text/html"):
            return True
    return False


def own_text(raw: bytes) -> str:
    """The sender's own words: the plain text (or the HTML's text), quotes and signature out."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        text = str(body.get_content())
    except (LookupError, ValueError):  # an unknown charset, a broken transfer encoding
        return ""
    if body.get_content_type() == "text/html":
        parser = _Text()
        parser.feed(text)
        text = "".join(parser.parts)
    return str(EmailReplyParser.parse_reply(text)).strip()


def dmarc_pass(msg: Message, raw: bytes, settings: Settings, dnsfunc: DnsFunc | None) -> bool:
    """The From domain is authenticated: our MX's ``dmarc=pass``, or an aligned DKIM signature.
    Our MX must remove ``Authentication-Results`` headers of its own authserv-id that come in
    with the message (RFC 8601 5): otherwise a sender could write one."""
    if len(msg.get_all("From") or []) != 1:
        return False
    if settings.inbound_authserv_id:
        for value in msg.get_all("Authentication-Results") or []:
            try:
                results = authres.AuthenticationResultsHeader.parse_value(str(value))
            except Exception:  # a malformed header (anyone can add one): not ours
                continue
            if str(results.authserv_id).lower() != settings.inbound_authserv_id.lower():
                continue
            for result in results.results:
                if str(result.method) == "dmarc" and str(result.result) == "pass":
                    return True
    return aligned_signer(raw, msg, dnsfunc)


# Which OCP an announcement's tag names: campaign keys never change, so a tag once found is
# kept (per process; the campaign table grows by one row per acknowledgement).
_TAGS: dict[str, str] = {}


def _ocp_for_tag(conn: sa.Connection, tag: str) -> str | None:
    known = _TAGS.get(tag)
    if known is not None:
        return known
    rows = conn.execute(
        sa.select(_campaign.c.key, _campaign.c.process_id).where(
            _campaign.c.kind == MessageKind.OCP_OPENING.value
        )
    )
    for row in rows:
        _TAGS[campaign_tag(str(row.key))] = str(row.process_id)
    return _TAGS.get(tag)


def _current_ocp(conn: sa.Connection, now: datetime) -> str | None:
    """The OCP whose window opened last (intake then says if it is closed)."""
    row = conn.execute(
        sa.select(_window.c.process_id)
        .where(_window.c.kind == WindowKind.OCP_SUBMISSIONS.value, _window.c.opens_at <= now)
        .order_by(_window.c.opens_at.desc())
        .limit(1)
    ).first()
    return str(row[0]) if row else None


def submit_by_mail(
    engine: Engine,
    settings: Settings,
    key: bytes,
    detail: str,
    mail_from: str,
    msg: Message,
    raw: bytes,
    *,
    dnsfunc: DnsFunc | None = None,
    now: datetime | None = None,
) -> Submitted:
    """Take a message to the OCP address (``detail``: the token after ``+``, if any)."""
    now = now or datetime.now(UTC)
    if is_automatic(msg, mail_from):
        return Submitted("ignored-automatic")
    subject, ref = subject_of(msg), str(msg.get("Message-ID", ""))

    def answer(why: str, **kw: Any) -> Submitted:
        return Submitted(
            f"answered-{why}", answer_for(why, mail_from, subject, ref, settings, **kw)
        )

    with engine.connect() as conn:
        if detail:
            token = read_token(key, "r", detail)
            if token is None or len(token[1]) != 1:
                return answer("unverifiable")
            where = _p.c.id == token[0]
            process_id = _ocp_for_tag(conn, token[1][0])
        else:
            if not dmarc_pass(msg, raw, settings, dnsfunc):
                return answer("unverifiable")
            # dmarc_pass checked the one From address's domain: that address is the sender.
            address = parseaddr(str(msg.get("From", "")))[1]
            where = sa.func.lower(_p.c.email) == address.strip().lower()
            process_id = _current_ocp(conn, now)
        person = conn.execute(sa.select(_p).where(where)).first()
    if person is None or person.verified_at is None:
        return answer("unknown")
    if process_id is None:
        return answer("closed", reason="no open consultation takes submissions now.")
    if has_attachments(msg):
        return answer("attachments")
    text = own_text(raw)
    if not text:
        return answer("empty")
    try:
        form = OcpForm(
            full_name=person.name,
            email=person.email,
            organization=person.organization,
            country=person.country,
            stakeholder_type=person.stakeholder_type,
            language=person.language,
            proposal=text,
        )
    except ValidationError:
        return answer("incomplete")
    with engine.connect() as conn:  # the same words from the same person: recorded already
        same = conn.execute(
            sa.select(_ocp.c.id).where(
                _ocp.c.process_id == process_id,
                _ocp.c.participant_id == person.id,
                _ocp.c.proposal == form.proposal,
            )
        ).first()
    if same:
        return Submitted("submission-duplicate")
    try:
        _, ack = record_submission(process_id, form, engine, now=now)
    except Refused as refused:
        return answer("closed", reason=str(refused))
    return Submitted("submission", ack=ack)
