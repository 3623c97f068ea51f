"""Transactional mail sent at once, outside any campaign: a sign-in link.

A sign-in link carries a secret that is kept nowhere but in the message, so it cannot wait
in the outbox (the outbox keeps what it sends); it goes out now, over one connection, and a
person whose link does not arrive asks for another. It is never bulk: no List-Unsubscribe,
and unsubscribed participants still receive it. The connection is the outbox's own
(``open_connection``): the same TLS, certificate checks and login as every other message.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosmtplib

from core.log import get_logger
from core.settings import Settings
from mail.compose import Composer, Recipient
from mail.outbox.connect import Unusable, open_connection, tls_context
from models.plan import GENEVA
from models.wire import Audience, CampaignRequest, MessageKind

log = get_logger(__name__)


async def send_now(
    kind: MessageKind,
    recipient: Recipient,
    settings: Settings,
    *,
    title: str,
    extra: dict[str, Any],
) -> bool:
    """Compose ``kind`` for ``recipient`` and send it now; False if the server refused it
    or could not be reached (the caller's page already says what to do then)."""
    request = CampaignRequest(
        key=f"portal:{kind.value}",
        process_id="portal",
        kind=kind,
        audience=Audience.ONE_PARTICIPANT,
        participant_id=recipient.participant_id,
        title=title,
        timezone=GENEVA,
    )
    # Composed in a thread: rendering and signing would otherwise hold the portal's event
    # loop, and the next page (the one its POST redirects to) would wait for it.
    composer = Composer.for_settings(request, settings, extra)
    data = await asyncio.to_thread(composer.message_bytes, recipient)
    try:
        smtp = await open_connection(settings, tls_context(settings))
    except (Unusable, aiosmtplib.SMTPException, OSError) as exc:
        log.warning("transactional.not_sent", kind=kind.value, error=type(exc).__name__)
        return False
    try:
        await smtp.sendmail(composer.sender_address, [recipient.email], data)
    except (aiosmtplib.SMTPException, OSError) as exc:
        log.warning("transactional.not_sent", kind=kind.value, error=type(exc).__name__)
        return False
    finally:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()
    return True
