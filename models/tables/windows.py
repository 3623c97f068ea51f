"""Intake windows: when a process takes submissions or votes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.tables.base import utc_column


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
    opens_at: datetime = Field(sa_column=utc_column(nullable=False))
    closes_at: datetime = Field(sa_column=utc_column(nullable=False))
    timezone: str = "Europe/Zurich"
    state: WindowState = Field(default=WindowState.SCHEDULED, sa_type=sa.String(12))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    accepted_count: int | None = None
    # Intake rules that go with the window (categories, word limits), as JSON.
    rules_json: str = Field(default="{}", sa_column_kwargs={"server_default": "{}"})
    # The workflow's history length at the last write: an older write never lands over it.
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
