"""submissions edited or withdrawn before the deadline: ocpsubmission.withdrawn_at, and the
history of every change (submission_revision)

Revision ID: 0009_revisions
Revises: 0009_countries
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables

revision: str = '0009_revisions'
down_revision: str | None = '0009_countries'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ocpsubmission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', models.tables.UTCDateTime(), nullable=True))
    op.create_table(
        'submission_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=12), nullable=False),
        sa.Column('revised_at', models.tables.UTCDateTime(), nullable=False),
        sa.Column('previous_json', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('submission_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_revision_item_id'), ['item_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('submission_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_revision_item_id'))
    op.drop_table('submission_revision')
    with op.batch_alter_table('ocpsubmission', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_at')
