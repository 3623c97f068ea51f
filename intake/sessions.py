"""Signed-in browsers: sessions as database rows, so any portal process serves anyone.

A session's id (256 random bits) lives in an HttpOnly cookie; the row keeps its keyed hash.
Two kinds (OWASP ASVS 3.3): a browser session, the default, ends after 2 idle hours or 12
hours at most, and its cookie with the browser; "keep me signed in" lasts 30 days at most and
7 idle days, its cookie as long. Each use pushes the idle limit ahead, at most once a minute
(one write a minute per active browser, not one per page).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intake.tokens import stored
from models.tables import Participant, PortalSession

_p = Participant.__table__  # type: ignore[attr-defined]
_s = PortalSession.__table__  # type: ignore[attr-defined]

TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionKind:
    """How long a session lasts: at most ``lifetime``, and ``idle`` without a request."""

    lifetime: timedelta
    idle: timedelta


BROWSER = SessionKind(lifetime=timedelta(hours=12), idle=timedelta(hours=2))
KEPT = SessionKind(lifetime=timedelta(days=30), idle=timedelta(days=7))


def open_session(
    engine: Engine, participant_id: int, key: bytes, *, keep: bool = False,
    now: datetime | None = None,
) -> str:  # fmt: skip
    """A new session for ``participant_id``; returns its id (for the cookie, kept nowhere)."""
    now = now or datetime.now(UTC)
    kind = KEPT if keep else BROWSER
    session_id = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            _s.insert().values(
                id_hash=stored(key, "session", session_id),
                participant_id=participant_id,
                created_at=now,
                expires_at=now + kind.lifetime,
                idle_until=now + kind.idle,
                idle_seconds=int(kind.idle.total_seconds()),
            )
        )
    return session_id


@dataclass(frozen=True)
class SessionFound:
    """Who a live session belongs to, and whether its idle limit is due to be pushed."""

    participant: Participant
    touch: bool


# Built once: every signed-in request asks it.
_SESSION_OWNER = (
    sa.select(_p, _s.c.idle_until, _s.c.idle_seconds)
    .join(_s, _s.c.participant_id == _p.c.id)
    .where(
        _s.c.id_hash == sa.bindparam("id_hash"),
        _s.c.expires_at > sa.bindparam("now"),
        _s.c.idle_until > sa.bindparam("now"),
    )
)


def find_session(
    engine: Engine, session_id: str, key: bytes, *, now: datetime | None = None
) -> SessionFound | None:
    """The session ``session_id`` while it lasts (neither expired nor idle too long)."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        row = conn.execute(
            _SESSION_OWNER, {"id_hash": stored(key, "session", session_id), "now": now}
        ).first()
    if row is None:
        return None
    fields = dict(row._mapping)
    idle_until, idle = fields.pop("idle_until"), timedelta(seconds=fields.pop("idle_seconds"))
    return SessionFound(
        Participant.model_validate(fields), touch=idle_until - now < idle - TOUCH_EVERY
    )


def touch_session(
    engine: Engine, session_id: str, key: bytes, *, now: datetime | None = None
) -> None:
    """The session was used: its idle limit starts again from ``now`` (never past its end)."""
    now = now or datetime.now(UTC)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        row = conn.execute(
            sa.select(_s.c.idle_seconds).where(_s.c.id_hash == stored(key, "session", session_id))
        ).first()
        if row is not None:
            conn.execute(
                _s.update()
                .where(_s.c.id_hash == stored(key, "session", session_id), _s.c.idle_until > now)
                .values(idle_until=now + timedelta(seconds=row.idle_seconds))
            )


def close_every_session(engine: Engine, participant_id: int) -> int:
    """Sign out on every device: all of the participant's sessions end; how many there were."""
    with engine.begin() as conn:
        return int(conn.execute(_s.delete().where(_s.c.participant_id == participant_id)).rowcount)


def close_session(engine: Engine, session_id: str, key: bytes) -> None:
    """Sign out: the session ends on the server, whatever the browser keeps."""
    with engine.begin() as conn:
        conn.execute(_s.delete().where(_s.c.id_hash == stored(key, "session", session_id)))
