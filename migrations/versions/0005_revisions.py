"""revisions: window writes and winner selections carry the workflow's revision

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('window') as batch:
        batch.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('project') as batch:
        batch.add_column(
            sa.Column('selection_revision', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('project') as batch:
        batch.drop_column('selection_revision')
    with op.batch_alter_table('window') as batch:
        batch.drop_column('revision')
