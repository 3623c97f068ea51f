"""Prize contests: projects, votes and the tally."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.tables.base import utc_column
from models.vocab import StakeholderType


class ProjectStatus(StrEnum):
    SUBMITTED = "submitted"
    ELIGIBLE = "eligible"  # passed the automatic checks; may still be marked ineligible
    INELIGIBLE = "ineligible"
    NOMINATED = "nominated"  # frozen at the end of phase II
    WITHDRAWN = "withdrawn"  # by its owner before the deadline: checked and counted nowhere


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
    submitted_at: datetime = Field(sa_column=utc_column(nullable=False))
    status: ProjectStatus = Field(default=ProjectStatus.SUBMITTED, sa_type=sa.String(12))
    reason: str | None = None  # why ineligible
    votes: int | None = None  # valid votes, frozen at the close of voting
    shortlisted: bool = False
    winner: bool = False
    # Revision of the Expert Group's selection in this category that set ``winner``.
    selection_revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class BallotReceipt(SQLModel, table=True):
    """One voter's confirmed ballot in a contest: its votes were cast together, and its code
    lets the voter check later that it was recorded."""

    __tablename__ = "ballot_receipt"

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(index=True)
    voter_id: int = Field(foreign_key="participant.id", index=True)
    code: str = Field(sa_column=sa.Column(sa.String(24), unique=True, nullable=False))
    votes: int
    cast_at: datetime = Field(sa_column=utc_column(nullable=False))


class Vote(SQLModel, table=True):
    """One vote: one per voter per category, enforced by the database.

    It keeps its evidence for the secretariat's review before the tally: when it was cast,
    the client's network (its /24 or /48, never the full address) and a keyed hash of its
    user agent. A voided vote stays, with its reason, and is left out of the tally.
    """

    __table_args__ = (
        sa.UniqueConstraint("process_id", "category", "voter_id"),
        sa.Index("ix_vote_network", "process_id", "network", "cast_at"),
        # Every ballot page reads the voter's votes, every receipt its ballot's: without
        # these each read scans the contest's votes (hundreds of thousands).
        sa.Index("ix_vote_voter", "voter_id", "process_id"),
        sa.Index("ix_vote_ballot", "ballot_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(index=True)
    category: str
    project_id: int = Field(foreign_key="project.id", index=True)
    voter_id: int = Field(foreign_key="participant.id")
    cast_at: datetime = Field(sa_column=utc_column(nullable=False))
    ballot_id: int | None = Field(default=None, foreign_key="ballot_receipt.id")
    network: str = Field(default="", sa_type=sa.String(50))
    agent_hash: str = Field(default="", sa_type=sa.String(64))
    voided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    void_reason: str | None = None


class PrizeTally(SQLModel, table=True):
    """The frozen result of a vote: what was counted, and a hash of exactly those ballots."""

    process_id: str = Field(primary_key=True)
    ballots_cast: int
    ballots_counted: int
    sha256: str
    ballot_rule: str
    tallied_at: datetime = Field(sa_column=utc_column(nullable=False))
