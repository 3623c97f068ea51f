"""The staff: accounts with a role and a second factor, their sessions, and the audit log.

A staff member's identity (address, name, language) is a participant row, so that the
portal's e-mailed sign-in link serves staff too (``intake.accounts``); the role, the second
factor and the sessions are here. The audit log is append-only: the database refuses to
change or delete a row (triggers, migration 0009_staff).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.tables.base import utc_column


class StaffRole(StrEnum):
    """What a staff member may do: run the cycle, or judge (the Expert Group)."""

    SECRETARIAT = "secretariat"
    EXPERT = "expert"
    EXPERT_LEAD = "expert-lead"


class StaffMember(SQLModel, table=True):
    """A staff account. ``removed_at`` set: it signs in no more (the row stays, for the log)."""

    __tablename__ = "staff_member"

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("participant.id"), unique=True, nullable=False
        )
    )
    role: str = Field(sa_type=sa.String(20))
    # The RFC 6238 secret, set at enrolment, sealed (AES-GCM under a key derived from the
    # portal's key: services.sealed), never in clear; the last time step accepted, so that a
    # code is used once.
    totp_sealed: str | None = Field(default=None, sa_type=sa.String(128))
    totp_last_step: int | None = None
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    removed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class StaffSession(SQLModel, table=True):
    """A signed-in staff browser: ends 30 minutes after its last request, 8 hours at most.
    ``second_factor_at`` is None while the second factor is still to be given."""

    __tablename__ = "staff_session"

    id_hash: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    staff_id: int = Field(foreign_key="staff_member.id", index=True)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    last_seen_at: datetime = Field(sa_column=utc_column(nullable=False))
    second_factor_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class AuditEntry(SQLModel, table=True):
    """One staff action: who (a staff id or the CLI's operator, never an address), what, on
    what, when, and the internal reason. Append-only."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    actor: str = Field(sa_type=sa.String(80))
    action: str = Field(sa_type=sa.String(60))
    target: str = Field(default="", sa_type=sa.String(200))
    reason: str = Field(default="", sa_type=sa.String(500))
    detail: str = Field(default="", sa_type=sa.Text)
