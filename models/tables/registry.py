"""The stakeholder registry: who the community is."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.tables.base import new_token, utc_column, utcnow
from models.vocab import Language, StakeholderType


class Participant(SQLModel, table=True):
    """A member of the WSIS community: the stakeholder registry."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=sa.Column(sa.String(320), unique=True, nullable=False))
    name: str = Field(index=True)  # the console sorts the registry by name
    organization: str = ""
    country: str = ""
    stakeholder_type: StakeholderType = Field(default=StakeholderType.OTHER, sa_type=sa.String(40))
    language: Language = Field(default=Language.EN, sa_type=sa.String(5))
    unsubscribed: bool = False
    # Unsubscribe links carry a token computed from the id and this generation
    # (``intake.tokens.unsubscribe_token``); nothing of them is stored. Raising it retires them.
    unsubscribe_generation: int = Field(
        default=0, sa_column=sa.Column(sa.Integer(), nullable=False, server_default="0")
    )
    # The keyed hash of the token mailed before migration 0011 (links in old mail still
    # work); for a participant created since, a random value that is nobody's hash.
    unsubscribe_legacy: str = Field(default_factory=new_token, unique=True)
    # When this person was verified: their first sign-in through an e-mailed link, or the
    # secretariat vouching for them at import (``participants import --verified``).
    verified_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # A sign-up on the portal not yet confirmed by its first sign-in: nobody's address yet.
    # It gets no bulk mail, is not counted, is greeted by no name, and is purged once its
    # link has expired.
    pending: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean(), nullable=False, server_default=sa.false())
    )
    # When they accepted the privacy notice (at sign-up), and when they deleted their account:
    # the row then stays, de-identified, so that their votes stay counted (intake/privacy.py).
    consented_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    erased_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
