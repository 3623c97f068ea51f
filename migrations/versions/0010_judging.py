"""judging: the Expert Group's assignments and score sheets (phase IV in the console)

Revision ID: 0010_judging
Revises: 0009_revisions
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables

revision: str = '0010_judging'
down_revision: str | None = '0009_revisions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'expert_assignment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('process_id', sa.String(length=120), nullable=False),
        sa.Column('category', sa.String(length=60), nullable=False),
        sa.Column('created_at', models.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['staff_id'], ['staff_member.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('staff_id', 'process_id', 'category'),
    )
    op.create_index('ix_expert_assignment_staff_id', 'expert_assignment', ['staff_id'])
    op.create_table(
        'score_sheet',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('recused', sa.Boolean(), nullable=False),
        sa.Column('scores', sa.Text(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('submitted_at', models.tables.UTCDateTime(), nullable=True),
        sa.Column('updated_at', models.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['project.id']),
        sa.ForeignKeyConstraint(['staff_id'], ['staff_member.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('staff_id', 'project_id'),
    )
    op.create_index('ix_score_sheet_project_id', 'score_sheet', ['project_id'])
    op.create_index('ix_score_sheet_staff_id', 'score_sheet', ['staff_id'])


def downgrade() -> None:
    op.drop_index('ix_score_sheet_staff_id', table_name='score_sheet')
    op.drop_index('ix_score_sheet_project_id', table_name='score_sheet')
    op.drop_table('score_sheet')
    op.drop_index('ix_expert_assignment_staff_id', table_name='expert_assignment')
    op.drop_table('expert_assignment')
