"""Whether the owner of an unsubscribe link takes the announcements, and taking them again
from the same link (the link is theirs alone: it came in their mail). Erased accounts have
no announcements to take."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.tables import Participant

_p = Participant.__table__  # type: ignore[attr-defined]


def subscribed_by_token(engine: Engine, token: str) -> bool | None:
    """True if the link's owner takes the announcements, False if not, None if unknown."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_p.c.unsubscribed).where(
                _p.c.unsubscribe_token == token, _p.c.erased_at.is_(None)
            )
        ).first()
    return None if row is None else not row.unsubscribed


def resubscribe(engine: Engine, token: str) -> bool:
    """Take the announcements again; False if the link is unknown."""
    with engine.begin() as conn:
        done = conn.execute(
            _p.update()
            .where(_p.c.unsubscribe_token == token, _p.c.erased_at.is_(None))
            .values(unsubscribed=False, updated_at=datetime.now(UTC))
        )
    return bool(done.rowcount)
