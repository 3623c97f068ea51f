"""vote indexes: a voter's votes and a ballot's votes are read without a scan

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_vote_voter', 'vote', ['voter_id', 'process_id'])
    op.create_index('ix_vote_ballot', 'vote', ['ballot_id'])


def downgrade() -> None:
    op.drop_index('ix_vote_ballot', table_name='vote')
    op.drop_index('ix_vote_voter', table_name='vote')
