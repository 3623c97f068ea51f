"""The periodic purge of what has expired: sessions past their end or idle limit, sign-in
tokens past their lifetime (used or not, decoys included), rate counters of past windows,
and sign-ups never confirmed once their links have expired.

Stateless and idempotent: every step is a DELETE of what has expired at ``now``, so any
number of portal processes may run it at any time (each does, every few minutes:
``portal.app``), and a run interrupted half-way is finished by the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intake.tokens import LINK_LIFETIME
from models.tables import Participant, PortalSession, RateCounter, SignInToken

_p = Participant.__table__  # type: ignore[attr-defined]
_t = SignInToken.__table__  # type: ignore[attr-defined]
_s = PortalSession.__table__  # type: ignore[attr-defined]
_r = RateCounter.__table__  # type: ignore[attr-defined]

COUNTER_KEPT = timedelta(minutes=30)  # two throttle windows: the current one and the last


@dataclass(frozen=True)
class Purged:
    """How many rows of each kind one pass deleted."""

    sessions: int
    tokens: int
    counters: int
    sign_ups: int


def purge_expired(engine: Engine, *, now: datetime | None = None) -> Purged:
    """Delete what has expired at ``now`` (see the module's docstring)."""
    now = now or datetime.now(UTC)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        sessions = conn.execute(
            _s.delete().where(sa.or_(_s.c.expires_at <= now, _s.c.idle_until <= now))
        ).rowcount
        tokens = conn.execute(_t.delete().where(_t.c.expires_at <= now)).rowcount
        counters = conn.execute(_r.delete().where(_r.c.window_start < now - COUNTER_KEPT)).rowcount
    # Apart: should a row still be referenced somewhere, the rest of the purge stands.
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        # A sign-up never confirmed: its links have all expired (and were just deleted).
        live = sa.select(_t.c.participant_id).where(_t.c.participant_id.is_not(None))
        sign_ups = conn.execute(
            _p.delete().where(
                _p.c.pending.is_(sa.true()),
                _p.c.verified_at.is_(None),
                _p.c.created_at <= now - LINK_LIFETIME,
                _p.c.id.not_in(live),
            )
        ).rowcount
    return Purged(sessions, tokens, counters, sign_ups)
