"""The e-mail outbox: campaigns and one row per recipient."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.tables.base import utc_column, utcnow


class Campaign(SQLModel, table=True):
    """One message kind to one audience, identified by its business key."""

    key: str = Field(primary_key=True, max_length=200)
    process_id: str = Field(index=True)
    kind: str
    request_json: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # handed to an SMTP connection, reply not yet recorded
    SENT = "sent"
    FAILED = "failed"  # permanent refusal (5xx) for this address
    SKIPPED = "skipped"  # unsubscribed since the campaign was planned


class OutboxMessage(SQLModel, table=True):
    """One recipient of one campaign. The unique key is what makes a campaign exactly-once."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint("campaign_key", "participant_id"),
        sa.Index("ix_outbox_campaign_state", "campaign_key", "state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_key: str = Field(foreign_key="campaign.key", max_length=200)
    participant_id: int = Field(foreign_key="participant.id")
    state: OutboxState = Field(default=OutboxState.PENDING, sa_type=sa.String(10))
    # Set when a send attempt's outcome was lost (crash or dropped connection after DATA):
    # the message may have been delivered once already. See README "Exactly once".
    ambiguous: bool = False
    attempts: int = 0
    message_id: str | None = None
    error: str | None = None
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
