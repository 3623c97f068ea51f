"""Acknowledgements: a campaign of one, queued in the same transaction as what it acknowledges."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.settings import Settings
from mail.outbox import DeliveryDeferred, deliver
from models.tables import Campaign, OutboxMessage, Window
from models.wire import Audience, CampaignRequest, MessageKind


def queue_ack(
    session: Session, window: Window, kind: MessageKind, ref: str, participant_id: int
) -> CampaignRequest:
    """Add the acknowledgement of ``ref`` (e.g. ``ack:12``) to the outbox, in ``session``."""
    request = CampaignRequest(
        key=f"{window.process_id}:{ref}",
        process_id=window.process_id,
        kind=kind,
        audience=Audience.ONE_PARTICIPANT,
        participant_id=participant_id,
        title=window.title,
        timezone=window.timezone,
    )
    session.add(
        Campaign(
            key=request.key,
            process_id=window.process_id,
            kind=kind.value,
            request_json=request.model_dump_json(),
        )
    )
    session.flush()
    session.add(OutboxMessage(campaign_key=request.key, participant_id=participant_id))
    return request


async def send_ack(request: CampaignRequest, engine: Engine, settings: Settings) -> bool:
    """Send it now over one connection; False if the mail server is down (it stays queued
    and goes out with the process's next outbox flush)."""
    one = settings.model_copy(update={"smtp_connections": 1})
    try:
        await deliver(request, one, engine=engine, connect_patience=2.0)
    except DeliveryDeferred:
        return False
    return True
