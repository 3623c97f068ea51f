"""portal accounts: sign-in tokens, sessions, rate counters

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'signin_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('pending_hash', sa.String(length=64), nullable=False),
        sa.Column('purpose', sa.String(length=20), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('address_hash', sa.String(length=64), nullable=False),
        sa.Column('code_attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', models.tables.UTCDateTime(), nullable=False),
        sa.Column('expires_at', models.tables.UTCDateTime(), nullable=False),
        sa.Column('used_at', models.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['participant_id'], ['participant.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_signin_token_pending_hash', 'signin_token', ['pending_hash'])
    op.create_index('ix_signin_token_participant_id', 'signin_token', ['participant_id'])
    op.create_table(
        'portal_session',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('created_at', models.tables.UTCDateTime(), nullable=False),
        sa.Column('expires_at', models.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['participant_id'], ['participant.id']),
        sa.PrimaryKeyConstraint('id_hash'),
    )
    op.create_index('ix_portal_session_participant_id', 'portal_session', ['participant_id'])
    op.create_table(
        'rate_counter',
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('window_start', models.tables.UTCDateTime(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key_hash', 'window_start'),
    )


def downgrade() -> None:
    op.drop_table('rate_counter')
    op.drop_index('ix_portal_session_participant_id', table_name='portal_session')
    op.drop_table('portal_session')
    op.drop_index('ix_signin_token_participant_id', table_name='signin_token')
    op.drop_index('ix_signin_token_pending_hash', table_name='signin_token')
    op.drop_table('signin_token')
