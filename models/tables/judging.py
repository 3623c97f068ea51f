"""Phase IV: the Expert Group's assignments and score sheets.

An expert is assigned a contest and a category (``category`` empty: every category of the
contest). A sheet is one expert's view of one shortlisted project: the scores per criterion
of the contest's rubric and a comment, a draft until ``submitted_at``; or a recusal (a
conflict of interest), which holds no score.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.tables.base import utc_column


class ExpertAssignment(SQLModel, table=True):
    """An expert judges this contest's category (or all its categories)."""

    __tablename__ = "expert_assignment"
    __table_args__ = (sa.UniqueConstraint("staff_id", "process_id", "category"),)

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_member.id", index=True)
    process_id: str = Field(sa_type=sa.String(120))
    category: str = Field(default="", sa_type=sa.String(60))  # "" = every category
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class ScoreSheet(SQLModel, table=True):
    """One expert's scores (JSON: criterion code -> integer) and comment on one project."""

    __tablename__ = "score_sheet"
    __table_args__ = (sa.UniqueConstraint("staff_id", "project_id"),)

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_member.id", index=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    recused: bool = False
    scores: str = Field(default="{}", sa_type=sa.Text)
    comment: str = Field(default="", sa_type=sa.Text)
    submitted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
