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
