"""The portal's sign-in links, sessions and rate counters."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.tables.base import UTCDateTime, utc_column


class SignInToken(SQLModel, table=True):
    """An e-mailed sign-in link and its short code: only their hashes are kept.

    Bound to one purpose and one address (a keyed hash of it at issue time), expiring,
    single use: consumed by one conditional UPDATE, so two clicks cannot both sign in.
    ``pending_hash`` ties the code to the browser that asked for it (a cookie). A request
    for an address nobody has leaves a decoy (no participant, a code nobody knows), so the
    code form answers alike for known and unknown addresses. Every hash is keyed with the
    portal's secret: a copy of the database alone matches nothing.
    """

    __tablename__ = "signin_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), unique=True, nullable=False))
    code_hash: str = Field(sa_type=sa.String(64))
    pending_hash: str = Field(sa_type=sa.String(64), index=True)
    purpose: str = Field(sa_type=sa.String(20))
    participant_id: int | None = Field(default=None, foreign_key="participant.id", index=True)
    address_hash: str = Field(sa_type=sa.String(64))
    code_attempts: int = 0
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class PortalSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random id, the database its hash. Kept here,
    not in a process's memory, so any number of portal processes share it. It ends at
    ``expires_at`` (absolute) or at ``idle_until``, which each use pushes ``idle_seconds``
    ahead (at most once a minute)."""

    __tablename__ = "portal_session"

    id_hash: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    participant_id: int = Field(foreign_key="participant.id", index=True)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    idle_until: datetime = Field(sa_column=utc_column(nullable=False))
    idle_seconds: int = 7200


class RateCounter(SQLModel, table=True):
    """Requests counted per key (a keyed hash of an address or a client's network) and
    window: shared by every portal process."""

    __tablename__ = "rate_counter"

    key_hash: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    window_start: datetime = Field(sa_column=sa.Column(UTCDateTime(), primary_key=True))
    count: int = 0
