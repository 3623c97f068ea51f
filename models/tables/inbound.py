"""Mail that comes back: what the inbound service stored, bounces, and mail standing.

``InboundMessage`` is written before the SMTP ``250`` (a crash loses nothing) under a unique
key derived from the Message-ID (so a message delivered twice is stored and processed once).
``MailStanding`` is a participant's bounce score and, when suspended, why; the bulk audience
leaves suspended participants out (``mail.audience``).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.tables.base import utc_column, utcnow


class InboundState(StrEnum):
    PENDING = "pending"  # stored, not processed yet
    WORKING = "working"  # taken by one inbound process (``taken_at`` says when)
    DONE = "done"


class InboundMessage(SQLModel, table=True):
    """One message received by the inbound service, stored before it was accepted."""

    __tablename__ = "inbound_message"
    __table_args__ = (sa.Index("ix_inbound_state", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    # SHA-256 of the Message-ID (of the content when there is none): the idempotency key.
    key: str = Field(sa_column=sa.Column(sa.String(64), unique=True, nullable=False))
    mail_from: str = Field(default="", sa_column=sa.Column(sa.String(320), nullable=False))
    rcpt_json: str = Field(sa_type=sa.Text)
    raw: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    state: InboundState = Field(default=InboundState.PENDING, sa_type=sa.String(10))
    # What it was: bounce, complaint, unsubscribe, submission, answered, ignored (no data).
    outcome: str | None = Field(default=None, sa_type=sa.String(40))
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    taken_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    processed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class BounceKind(StrEnum):
    MAILBOX = "mailbox"  # 5.1.x: no such mailbox; suspends at once
    HARD = "hard"  # another permanent failure
    SOFT = "soft"  # a temporary failure


class MailBounce(SQLModel, table=True):
    """One bounce of one message to one participant (one per inbound message)."""

    __tablename__ = "mail_bounce"

    id: int | None = Field(default=None, primary_key=True)
    inbound_id: int = Field(foreign_key="inbound_message.id", unique=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    campaign_key: str | None = Field(default=None, max_length=200, index=True)
    kind: BounceKind = Field(sa_type=sa.String(10))
    status: str = Field(default="", max_length=20)  # the DSN status code, e.g. 5.1.1
    scored: float = 0.0  # what it added to the score (0 when already scored that day)
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class MailStanding(SQLModel, table=True):
    """A participant's bounce score (Mailman's rule) and suspension of bulk mail."""

    __tablename__ = "mail_standing"

    participant_id: int = Field(foreign_key="participant.id", primary_key=True)
    score: float = 0.0
    last_scored_on: date | None = None
    suspended_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Why, in words a participant reads: "no such mailbox (5.1.1)", "5 bounces".
    reason: str | None = Field(default=None, max_length=200)
    complaint_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class InboundAnswer(SQLModel, table=True):
    """When a sender was last answered: at most one answer per sender per period (no loops).
    The sender is kept as a keyed hash only."""

    __tablename__ = "inbound_answer"

    sender_hash: str = Field(primary_key=True, max_length=64)
    answered_at: datetime = Field(sa_column=utc_column(nullable=False))
