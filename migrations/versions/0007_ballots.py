"""ballots: receipts, and the evidence and voiding of each vote

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'ballot_receipt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_id', sa.String(), nullable=False),
        sa.Column('voter_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=24), nullable=False),
        sa.Column('votes', sa.Integer(), nullable=False),
        sa.Column('cast_at', models.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['voter_id'], ['participant.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_index('ix_ballot_receipt_process_id', 'ballot_receipt', ['process_id'])
    op.create_index('ix_ballot_receipt_voter_id', 'ballot_receipt', ['voter_id'])
    with op.batch_alter_table('vote') as batch:
        batch.add_column(sa.Column('ballot_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('network', sa.String(length=50), server_default='', nullable=False))
        batch.add_column(sa.Column('agent_hash', sa.String(length=64), server_default='', nullable=False))
        batch.add_column(sa.Column('voided_at', models.tables.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('void_reason', sa.String(), nullable=True))
        batch.create_foreign_key('fk_vote_ballot', 'ballot_receipt', ['ballot_id'], ['id'])
        batch.create_index('ix_vote_network', ['process_id', 'network', 'cast_at'])


def downgrade() -> None:
    with op.batch_alter_table('vote') as batch:
        batch.drop_index('ix_vote_network')
        batch.drop_constraint('fk_vote_ballot', type_='foreignkey')
        for column in ('void_reason', 'voided_at', 'agent_hash', 'network', 'ballot_id'):
            batch.drop_column(column)
    op.drop_index('ix_ballot_receipt_voter_id', table_name='ballot_receipt')
    op.drop_index('ix_ballot_receipt_process_id', table_name='ballot_receipt')
    op.drop_table('ballot_receipt')
