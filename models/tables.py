"""Database tables. The database owns the data; workflows only ever see ids.

Times are stored as UTC (naive in the column, made aware again on the way out) so that SQLite
and PostgreSQL behave the same.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.vocab import Language, StakeholderType


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware datetimes in, UTC-aware datetimes out, on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Now, aware, in UTC (outside workflows only)."""
    return datetime.now(UTC)


def _token() -> str:
    return secrets.token_urlsafe(18)


def _utc_column(**kw: Any) -> Any:
    return sa.Column(UTCDateTime(), **kw)


class Participant(SQLModel, table=True):
    """A member of the WSIS community: the stakeholder registry."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=sa.Column(sa.String(320), unique=True, nullable=False))
    name: str
    organization: str = ""
    country: str = ""
    stakeholder_type: StakeholderType = Field(default=StakeholderType.OTHER, sa_type=sa.String(40))
    language: Language = Field(default=Language.EN, sa_type=sa.String(5))
    unsubscribed: bool = False
    unsubscribe_token: str = Field(default_factory=_token, unique=True)
    # When this person was verified: their first sign-in through an e-mailed link, or the
    # secretariat vouching for them at import (``participants import --verified``).
    verified_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class WindowKind(StrEnum):
    OCP_SUBMISSIONS = "ocp-submissions"
    PROJECT_SUBMISSIONS = "project-submissions"
    NOMINATION = "nomination"  # the secretariat may mark submissions ineligible
    VOTING = "voting"


class WindowState(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Window(SQLModel, table=True):
    """An intake window (submissions, votes) of one process.

    Intake accepts a row only when ``opens_at <= now < closes_at`` and the state is not closed
    or cancelled, checked in the same transaction that writes the row: the deadline is exact
    even while no worker runs. The workflow's close step then freezes the result.
    """

    __table_args__ = (sa.UniqueConstraint("process_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(index=True)
    title: str = ""  # the cycle's title, for the acknowledgements intake sends
    kind: WindowKind = Field(sa_type=sa.String(30))
    opens_at: datetime = Field(sa_column=_utc_column(nullable=False))
    closes_at: datetime = Field(sa_column=_utc_column(nullable=False))
    timezone: str = "Europe/Zurich"
    state: WindowState = Field(default=WindowState.SCHEDULED, sa_type=sa.String(12))
    closed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    accepted_count: int | None = None
    # Intake rules that go with the window (categories, word limits), as JSON.
    rules_json: str = Field(default="{}", sa_column_kwargs={"server_default": "{}"})
    # The workflow's history length at the last write: an older write never lands over it.
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class OcpSubmission(SQLModel, table=True):
    """An Official Submission Form of the Open Consultation Process."""

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    full_name: str
    email: str
    organization: str
    country: str
    telephone: str | None = None
    stakeholder_type: StakeholderType = Field(sa_type=sa.String(40))
    proposal: str = Field(sa_type=sa.Text)
    submitted_at: datetime = Field(sa_column=_utc_column(nullable=False))


class Campaign(SQLModel, table=True):
    """One message kind to one audience, identified by its business key."""

    key: str = Field(primary_key=True, max_length=200)
    process_id: str = Field(index=True)
    kind: str
    request_json: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


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
    sent_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class ProjectStatus(StrEnum):
    SUBMITTED = "submitted"
    ELIGIBLE = "eligible"  # passed the automatic checks; may still be marked ineligible
    INELIGIBLE = "ineligible"
    NOMINATED = "nominated"  # frozen at the end of phase II


class Project(SQLModel, table=True):
    """A project submitted to a prize contest, in one category."""

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(index=True)
    category: str = Field(index=True)
    title: str
    # Case- and space-folded title: how duplicates and earlier winners are recognised.
    title_key: str = Field(index=True)
    description: str = Field(sa_type=sa.Text)
    owner_id: int = Field(foreign_key="participant.id", index=True)
    organization: str = ""
    stakeholder_type: StakeholderType = Field(sa_type=sa.String(40))
    country: str
    submitted_at: datetime = Field(sa_column=_utc_column(nullable=False))
    status: ProjectStatus = Field(default=ProjectStatus.SUBMITTED, sa_type=sa.String(12))
    reason: str | None = None  # why ineligible
    votes: int | None = None  # valid votes, frozen at the close of voting
    shortlisted: bool = False
    winner: bool = False
    # Revision of the Expert Group's selection in this category that set ``winner``.
    selection_revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Vote(SQLModel, table=True):
    """One ballot: one vote per voter per category, enforced by the database."""

    __table_args__ = (sa.UniqueConstraint("process_id", "category", "voter_id"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(index=True)
    category: str
    project_id: int = Field(foreign_key="project.id", index=True)
    voter_id: int = Field(foreign_key="participant.id")
    cast_at: datetime = Field(sa_column=_utc_column(nullable=False))


class PrizeTally(SQLModel, table=True):
    """The frozen result of a vote: what was counted, and a hash of exactly those ballots."""

    process_id: str = Field(primary_key=True)
    ballots_cast: int
    ballots_counted: int
    sha256: str
    ballot_rule: str
    tallied_at: datetime = Field(sa_column=_utc_column(nullable=False))


class SignInToken(SQLModel, table=True):
    """An e-mailed sign-in link and its short code: only their hashes are kept.

    Bound to one purpose and one address (a keyed hash of it at issue time), expiring,
    single use: consumed by one conditional UPDATE, so two clicks cannot both sign in.
    ``pending_hash`` ties the code to the browser that asked for it (a cookie).
    """

    __tablename__ = "signin_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), unique=True, nullable=False))
    code_hash: str = Field(sa_type=sa.String(64))
    pending_hash: str = Field(sa_type=sa.String(64), index=True)
    purpose: str = Field(sa_type=sa.String(20))
    participant_id: int = Field(foreign_key="participant.id", index=True)
    address_hash: str = Field(sa_type=sa.String(64))
    code_attempts: int = 0
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=_utc_column(nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class PortalSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random id, the database its hash. Kept here,
    not in a process's memory, so any number of portal processes share it."""

    __tablename__ = "portal_session"

    id_hash: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    participant_id: int = Field(foreign_key="participant.id", index=True)
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=_utc_column(nullable=False))


class RateCounter(SQLModel, table=True):
    """Requests counted per key (a keyed hash of an address or a client's network) and
    window: shared by every portal process."""

    __tablename__ = "rate_counter"

    key_hash: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    window_start: datetime = Field(sa_column=sa.Column(UTCDateTime(), primary_key=True))
    count: int = 0
