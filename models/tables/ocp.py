"""Official submissions to the Open Consultation Process."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.tables.base import utc_column
from models.vocab import StakeholderType


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
    submitted_at: datetime = Field(sa_column=utc_column(nullable=False))
    # Withdrawn by its sender before the deadline: kept (with its history), counted nowhere.
    withdrawn_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class SubmissionRevision(SQLModel, table=True):
    """The history of an official submission or a project edited or withdrawn by its sender
    before the deadline: what it was before each change (intake/revisions.py)."""

    __tablename__ = "submission_revision"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=sa.String(12))  # submission, project
    item_id: int = Field(index=True)
    action: str = Field(sa_type=sa.String(12))  # edited, withdrawn
    revised_at: datetime = Field(sa_column=utc_column(nullable=False))
    previous_json: str = Field(sa_type=sa.Text)
