"""participant: consented_at (the privacy notice accepted at sign-up), erased_at (the account
deleted at its owner's request: the row stays, de-identified, so that votes stay counted)

Revision ID: 0009_privacy
Revises: 0009_inbound_mail
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables

revision: str = '0009_privacy'
down_revision: str | None = '0009_inbound_mail'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consented_at', models.tables.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('erased_at', models.tables.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
        batch_op.drop_column('consented_at')
