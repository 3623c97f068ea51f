"""portal hardening: pending sign-ups, decoy sign-in rows, idle sessions, keyed hashes

Revision ID: 0009_portal_hardening
Revises: 0008
Create Date: 2026-12-03

The hashes of sign-in tokens, pending values and session ids were SHA-256s; they become
HMACs under the portal's secret of those SHA-256s (``intake.tokens.rekeyed``), so the rows
move in place and every link and session still works. Run it with the portal's secret
(``WSIS_PORTAL_SECRET``, or ``var/portal-secret``) in the environment, as the portal runs.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables

revision: str = '0009_portal_hardening'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MOVED = (('signin_token', 'id', ('token_hash', 'signin'), ('pending_hash', 'pending')),
          ('portal_session', 'id_hash', ('id_hash', 'session')))


def _key() -> bytes:
    from core.settings import get_settings

    return get_settings().portal_key()


def _rehash(forward: bool) -> None:
    from intake.tokens import rekeyed

    if not forward:  # a keyed hash cannot be undone: the rows are dropped instead
        op.execute('DELETE FROM portal_session')
        op.execute('DELETE FROM signin_token')
        return
    conn = op.get_bind()
    key = _key()
    for table, pk, *columns in _MOVED:
        names = [name for name, _ in columns]
        rows = conn.execute(sa.text(f'SELECT {pk}, {", ".join(names)} FROM {table}')).all()
        for row in rows:
            values = {name: rekeyed(key, use, getattr(row, name)) for name, use in columns}
            sets = ", ".join(f"{name} = :{name}" for name in names)
            conn.execute(
                sa.text(f'UPDATE {table} SET {sets} WHERE {pk} = :old_pk'),
                {**values, 'old_pk': getattr(row, pk)},
            )


def upgrade() -> None:
    # A plain ADD COLUMN: a batch copy of participant would trip the foreign keys to it.
    op.add_column(
        'participant',
        sa.Column('pending', sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table('signin_token') as batch:
        batch.alter_column('participant_id', existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table('portal_session') as batch:
        batch.add_column(sa.Column('idle_until', models.tables.UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column('idle_seconds', sa.Integer(), nullable=False, server_default='7200')
        )
    op.execute('UPDATE portal_session SET idle_until = expires_at')
    with op.batch_alter_table('portal_session') as batch:
        batch.alter_column(
            'idle_until', existing_type=models.tables.UTCDateTime(), nullable=False
        )
        batch.alter_column('idle_seconds', server_default=None)
    _rehash(forward=True)


def downgrade() -> None:
    _rehash(forward=False)
    with op.batch_alter_table('portal_session') as batch:
        batch.drop_column('idle_seconds')
        batch.drop_column('idle_until')
    with op.batch_alter_table('signin_token') as batch:
        batch.alter_column('participant_id', existing_type=sa.Integer(), nullable=False)
    op.drop_column('participant', 'pending')
