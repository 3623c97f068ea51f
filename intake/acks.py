"""Acknowledgements: a campaign of one, queued in the same transaction as what it acknowledges."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.log import get_logger
from core.settings import Settings
from mail.outbox import CampaignStopped, DeliveryDeferred, deliver
from models.tables import Campaign, OutboxMessage, OutboxState, Window
from models.window_rules import WindowRules
from models.wire import Audience, CampaignRequest, MessageKind

log = get_logger(__name__)
_campaign = Campaign.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


class AckOutcome(StrEnum):
    """What became of an acknowledgement sent at once."""

    SENT = "sent"  # the mail server took it
    REFUSED = "refused"  # refused for good (5xx, an undeliverable address): it will not go out
    QUEUED = "queued"  # not now (server down, a temporary refusal): the next flush sends it

    @property
    def summary(self) -> str:
        """How the secretariat's command line reports it."""
        return {
            AckOutcome.SENT: "acknowledged",
            AckOutcome.REFUSED: "acknowledgement refused by the mail server (see the outbox)",
            AckOutcome.QUEUED: "acknowledgement queued (mail server unavailable)",
        }[self]


def queue_ack(
    session: Session,
    window: Window,
    kind: MessageKind,
    ref: str,
    participant_id: int,
    *,
    subject_id: int | None = None,
    reason_code: str | None = None,
) -> CampaignRequest:
    """Add the acknowledgement of ``ref`` (e.g. ``ack:12``) to the outbox, in ``session``;
    ``subject_id`` names the row it is about when its template needs it (a receipt),
    ``reason_code`` the listed reason it gives (an ineligibility)."""
    return queue_acks(
        session, window, kind, [(ref, participant_id, subject_id)], reason_code=reason_code
    )[0]


def queue_acks(
    session: Session,
    window: Window,
    kind: MessageKind,
    acks: Sequence[tuple[str, int, int | None]],
    *,
    reason_code: str | None = None,
) -> list[CampaignRequest]:
    """``queue_ack`` for each (ref, participant id, subject id) of ``acks``, in two
    statements: the receipts of a batch of ballots."""
    titles = WindowRules.parse(window.rules_json).titles  # the title in other languages
    requests = [
        CampaignRequest(
            key=f"{window.process_id}:{ref}",
            process_id=window.process_id,
            kind=kind,
            audience=Audience.ONE_PARTICIPANT,
            participant_id=participant_id,
            subject_id=subject_id,
            reason_code=reason_code,
            title=window.title,
            titles=titles,
            timezone=window.timezone,
        )
        for ref, participant_id, subject_id in acks
    ]
    if not requests:
        return requests
    now = datetime.now(UTC)
    # Plain inserts, not ORM objects: this runs inside ballots' transactions, which on SQLite
    # hold the one write lock.
    session.execute(
        _campaign.insert(),
        [
            {"key": r.key, "process_id": window.process_id, "kind": kind.value,
             "request_json": r.model_dump_json(), "created_at": now}
            for r in requests
        ],
    )  # fmt: skip
    session.execute(
        _outbox.insert(),
        [
            {"campaign_key": r.key, "participant_id": r.participant_id,
             "state": OutboxState.PENDING.value, "ambiguous": False, "attempts": 0}
            for r in requests
        ],
    )  # fmt: skip
    return requests


async def send_ack(request: CampaignRequest, engine: Engine, settings: Settings) -> AckOutcome:
    """Send it now over one connection, and say what happened. If it cannot go now it stays
    queued and goes out with the process's next outbox flush; a permanent refusal (a 5xx for
    the address) is recorded in the outbox and reported, never as "acknowledged"."""
    one = settings.model_copy(update={"smtp_connections": 1})
    try:
        result = await deliver(request, one, engine=engine, connect_patience=2.0)
    except DeliveryDeferred:
        return AckOutcome.QUEUED
    except CampaignStopped as exc:
        # Our credentials, sender or relay were refused: the submission is recorded all the
        # same; the flush, which runs as an activity, reports the cause in the workflow.
        log.warning("ack.stopped", campaign=request.key, reason=str(exc))
        return AckOutcome.QUEUED
    return AckOutcome.SENT if result.sent else AckOutcome.REFUSED
