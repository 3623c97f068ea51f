"""A participant's mail standing: bounces scored (Mailman's rule), suspension, complaints.

A "no such mailbox" suspends bulk mail at once. Any other bounce adds its weight (hard 1,
soft 0.5 by default) at most once a day per participant; at the threshold (5) bulk mail is
suspended. A score not added to for ``bounce_stale_days`` starts again from zero. A
complaint (a feedback report) unsubscribes the participant from announcements at once.
Transactional mail (sign-in links, acknowledgements) is never suspended: it is how a person
gets back in and re-enables their mail on the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.settings import Settings
from mail.inbound.classify import Bounce
from models.tables import BounceKind, MailBounce, MailStanding, OutboxMessage, Participant

_bounce = MailBounce.__table__  # type: ignore[attr-defined]
_standing = MailStanding.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_p = Participant.__table__  # type: ignore[attr-defined]


def suspended_ids() -> sa.Select[tuple[int]]:
    """The participants whose bulk mail is suspended (``mail.audience`` leaves them out)."""
    return sa.select(_standing.c.participant_id).where(_standing.c.suspended_at.is_not(None))


def outbox_recipient(engine: Engine, outbox_id: int) -> tuple[int, str] | None:
    """The participant and campaign of outbox row ``outbox_id``."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_outbox.c.participant_id, _outbox.c.campaign_key).where(
                _outbox.c.id == outbox_id
            )
        ).first()
    return (int(row[0]), str(row[1])) if row else None


def record_bounce(
    engine: Engine,
    settings: Settings,
    inbound_id: int,
    participant_id: int,
    campaign_key: str | None,
    bounce: Bounce,
    *,
    now: datetime | None = None,
) -> bool:
    """Record ``bounce`` and score it; True when it suspended the participant just now."""
    now = now or datetime.now(UTC)
    today = now.date()
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        if conn.execute(sa.select(_bounce.c.id).where(_bounce.c.inbound_id == inbound_id)).first():
            return False  # processed already (a retry after a crash)
        standing = conn.execute(
            sa.select(_standing).where(_standing.c.participant_id == participant_id)
        ).first()
        if standing is None:
            conn.execute(_standing.insert().values(participant_id=participant_id, score=0.0))
            score, last, suspended = 0.0, None, None
        else:
            score, last, suspended = standing.score, standing.last_scored_on, standing.suspended_at
        if last is not None and today - last > timedelta(days=settings.bounce_stale_days):
            score = 0.0  # old bounces are forgotten, as Mailman does
        weight = (
            settings.bounce_score_soft
            if bounce.kind is BounceKind.SOFT
            else (settings.bounce_score_hard)
        )
        scored = 0.0 if last == today else weight  # once a day per participant
        values: dict[str, object] = {"score": score + scored}
        if scored:
            values["last_scored_on"] = today
        newly = False
        if suspended is None:
            if bounce.kind is BounceKind.MAILBOX:
                values.update(
                    suspended_at=now, reason=f"no such mailbox ({bounce.status or '5.1.1'})"
                )
                newly = True
            elif score + scored >= settings.bounce_threshold:
                values.update(
                    suspended_at=now, reason=f"repeated bounces (score {score + scored:g})"
                )
                newly = True
        conn.execute(
            _standing.update().where(_standing.c.participant_id == participant_id).values(**values)
        )
        conn.execute(
            _bounce.insert().values(
                inbound_id=inbound_id,
                participant_id=participant_id,
                campaign_key=campaign_key,
                kind=bounce.kind.value,
                status=bounce.status,
                scored=scored,
                received_at=now,
            )
        )
    return newly


def complain(engine: Engine, participant_id: int, *, now: datetime | None = None) -> None:
    """A complaint: unsubscribe from announcements at once, and remember when (idempotent)."""
    now = now or datetime.now(UTC)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(
            _p.update().where(_p.c.id == participant_id).values(unsubscribed=True, updated_at=now)
        )
        found = conn.execute(
            _standing.update()
            .where(_standing.c.participant_id == participant_id)
            .values(complaint_at=now)
        )
        if not found.rowcount:
            conn.execute(
                _standing.insert().values(
                    participant_id=participant_id, score=0.0, complaint_at=now
                )
            )


@dataclass(frozen=True)
class Standing:
    """What a participant sees on the portal."""

    suspended_at: datetime | None
    reason: str | None
    score: float


def standing_of(engine: Engine, participant_id: int) -> Standing | None:
    """The participant's mail standing (None when nothing ever came back)."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_standing.c.suspended_at, _standing.c.reason, _standing.c.score).where(
                _standing.c.participant_id == participant_id
            )
        ).first()
    return Standing(row[0], row[1], float(row[2])) if row else None


def re_enable(engine: Engine, participant_id: int) -> bool:
    """Lift a suspension (the participant fixed their mailbox); True if there was one."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        done = conn.execute(
            _standing.update()
            .where(
                _standing.c.participant_id == participant_id,
                _standing.c.suspended_at.is_not(None),
            )
            .values(suspended_at=None, reason=None, score=0.0, last_scored_on=None)
        )
        return bool(done.rowcount)
