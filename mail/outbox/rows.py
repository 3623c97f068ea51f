"""The campaign and its outbox rows: created once, read a page at a time, counted.

Every function here is one short transaction (or one query) on the engine's database; the
state changes made while sending go through the group-committed ledger (``ledger.py``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from mail.compose import Recipient
from models.tables import Campaign, MailStanding, OutboxMessage, OutboxState, Participant
from models.wire import CampaignRequest, CampaignResult

PAGE_SIZE = 1000
# Outside the campaign activity (an acknowledgement sent by intake, the outbox flush), a row
# claimed by another sender is only taken over after this long: it may still be in flight.
STALE_AFTER = timedelta(minutes=5)

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_participant = Participant.__table__  # type: ignore[attr-defined]
_campaign = Campaign.__table__  # type: ignore[attr-defined]
_standing = MailStanding.__table__  # type: ignore[attr-defined]


def enqueue(request: CampaignRequest, audience: sa.Select[Any], *, engine: Engine) -> bool:
    """Create the campaign and its outbox rows (participant ids from ``audience``) once.

    Returns False when the campaign already existed: its audience is frozen.
    """
    try:
        with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            exists = conn.execute(
                sa.select(_campaign.c.key).where(_campaign.c.key == request.key)
            ).first()
            if exists:
                return False
            conn.execute(
                _campaign.insert().values(
                    key=request.key,
                    process_id=request.process_id,
                    kind=request.kind.value,
                    request_json=request.model_dump_json(),
                    created_at=datetime.now(UTC),
                )
            )
            ids = audience.subquery()
            conn.execute(
                _outbox.insert().from_select(
                    ["campaign_key", "participant_id", "state", "ambiguous", "attempts"],
                    sa.select(
                        sa.literal(request.key),
                        ids.c[0],
                        sa.literal(OutboxState.PENDING.value),
                        sa.false(),
                        sa.literal(0),
                    ),
                )
            )
            return True
    except IntegrityError:
        # Another shard created it at the same moment (PostgreSQL): it is there now.
        return False


def _in_shard(shard: int, shards: int) -> list[Any]:
    return [_outbox.c.participant_id % shards == shard] if shards > 1 else []


def state_counts(
    key: str, engine: Engine, shard: int = 0, shards: int = 1
) -> tuple[CampaignResult, int, int]:
    """The campaign's counts (of one shard), with the pending and in-flight rows."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_outbox.c.state, _outbox.c.ambiguous, sa.func.count())
            .where(_outbox.c.campaign_key == key, *_in_shard(shard, shards))
            .group_by(_outbox.c.state, _outbox.c.ambiguous)
        ).all()
    result = CampaignResult(key=key)
    pending = sending = 0
    for state, ambiguous, count in rows:
        result.recipients += count
        if ambiguous:
            result.ambiguous += count
        if state == OutboxState.SENT:
            result.sent += count
        elif state == OutboxState.FAILED:
            result.failed += count
        elif state == OutboxState.SKIPPED:
            result.skipped += count
        elif state == OutboxState.PENDING:
            pending += count
        elif state == OutboxState.SENDING:
            sending += count
    return result, pending, sending


def campaign_counts(key: str, *, engine: Engine, shard: int = 0, shards: int = 1) -> CampaignResult:
    """What the outbox says of a campaign (or of one of its shards): recipients, sent, failed,
    skipped, ambiguous. Shards partition the recipients: their counts add up."""
    return state_counts(key, engine, shard, shards)[0]


def campaign_token(key: str, engine: Engine) -> str:
    """Stable for the campaign, different for another campaign (or the same key re-created):
    the local part of its Message-IDs."""
    with engine.connect() as conn:
        created = conn.execute(
            sa.select(_campaign.c.created_at).where(_campaign.c.key == key)
        ).scalar()
    seed = f"{key}|{created.isoformat() if created else ''}"
    return hashlib.sha256(seed.encode()).hexdigest()[:20]


def recover_in_flight(
    key: str, shard: int, shards: int, engine: Engine, older_than: timedelta
) -> int:
    """Rows left ``sending`` by a sender that is gone: their outcome is unknown (ambiguous).

    While a row is ``sending``, ``sent_at`` holds when it was claimed.
    """
    where = [
        _outbox.c.campaign_key == key,
        _outbox.c.state == OutboxState.SENDING.value,
        *_in_shard(shard, shards),
    ]
    if older_than > timedelta(0):
        where.append(_outbox.c.sent_at < datetime.now(UTC) - older_than)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        result = conn.execute(
            _outbox.update()
            .where(*where)
            .values(
                state=OutboxState.PENDING.value,
                ambiguous=True,
                sent_at=None,
                error="outcome unknown: the sender stopped during the SMTP exchange",
            )
        )
        return int(result.rowcount or 0)


@dataclass(frozen=True)
class Row:
    """A pending outbox row with what its message needs."""

    outbox_id: int
    attempts: int
    recipient: Recipient
    unsubscribed: bool
    # Bulk mail to this participant is suspended (bounces), maybe since the campaign was queued.
    suspended: bool = False

    @property
    def bulk_excluded(self) -> bool:
        """Whether a bulk message must skip this row: the audience was frozen at enqueue, but
        an unsubscription or a suspension since then wins (transactional mail ignores this)."""
        return self.unsubscribed or self.suspended


def read_page(key: str, after: int, shard: int, shards: int, engine: Engine) -> list[Row]:
    """Up to ``PAGE_SIZE`` pending rows of the campaign (shard) after outbox id ``after``."""
    query = (
        sa.select(
            _outbox.c.id,
            _outbox.c.attempts,
            _participant.c.id,
            _participant.c.email,
            _participant.c.name,
            _participant.c.language,
            _participant.c.unsubscribe_generation,
            _participant.c.unsubscribed,
            _standing.c.suspended_at.is_not(None),
        )
        .join(_participant, _participant.c.id == _outbox.c.participant_id)
        .outerjoin(_standing, _standing.c.participant_id == _outbox.c.participant_id)
        .where(
            _outbox.c.campaign_key == key,
            _outbox.c.state == OutboxState.PENDING.value,
            _outbox.c.id > after,
            *_in_shard(shard, shards),
        )
        .order_by(_outbox.c.id)
        .limit(PAGE_SIZE)
    )
    with engine.connect() as conn:
        return [
            Row(r[0], r[1], Recipient(r[2], r[3], r[4], r[5], r[6]), bool(r[7]), bool(r[8]))
            for r in conn.execute(query)
        ]


def mark_completed(key: str, *, engine: Engine) -> None:
    """Stamp the campaign as completed once nothing of it is pending any more."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        pending = conn.execute(
            sa.select(sa.func.count())
            .select_from(_outbox)
            .where(
                _outbox.c.campaign_key == key,
                _outbox.c.state.in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
            )
        ).scalar_one()
        if not pending:
            conn.execute(
                _campaign.update()
                .where(_campaign.c.key == key, _campaign.c.completed_at.is_(None))
                .values(completed_at=datetime.now(UTC))
            )


def pending_campaigns(process_id: str, engine: Engine) -> list[CampaignRequest]:
    """The campaigns of ``process_id`` that still have messages to send."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_campaign.c.request_json)
            .where(
                _campaign.c.process_id == process_id,
                sa.exists().where(
                    _outbox.c.campaign_key == _campaign.c.key,
                    _outbox.c.state.in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
                ),
            )
            .order_by(_campaign.c.created_at)
        ).all()
    return [CampaignRequest.model_validate_json(r[0]) for r in rows]
