"""unsubscribe tokens computed, not stored: keyed hashes of the old ones

Revision ID: 0011_unsubscribe_tokens
Revises: 0010_judging
Create Date: 2026-12-03

Unsubscribe links now carry ``<participant id>.<HMAC(portal key, id and generation)>``
(``intake.tokens.unsubscribe_token``), computed when a message is composed and checked
without any stored secret. The clear ``unsubscribe_token`` column becomes
``unsubscribe_legacy``: the keyed hash of each old token (``intake.tokens.legacy_unsubscribe``),
so the links in mail already sent keep working and a copy of the database matches none.
Run it with the portal's secret (``WSIS_PORTAL_SECRET``, or ``var/portal-secret``), as the
portal runs. The column is renamed in place (SQLite and PostgreSQL): rebuilding participant
would trip the foreign keys to it.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_unsubscribe_tokens'
down_revision: str | None = '0010_judging'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> bytes:
    from core.settings import get_settings

    return get_settings().portal_key()


def upgrade() -> None:
    from intake.tokens import legacy_unsubscribe

    op.add_column(
        'participant',
        sa.Column('unsubscribe_generation', sa.Integer(), nullable=False, server_default='0'),
    )
    op.execute('ALTER TABLE participant RENAME COLUMN unsubscribe_token TO unsubscribe_legacy')
    conn = op.get_bind()
    key = _key()
    rows = conn.execute(sa.text('SELECT id, unsubscribe_legacy FROM participant')).all()
    for pid, token in rows:
        conn.execute(
            sa.text('UPDATE participant SET unsubscribe_legacy = :h WHERE id = :id'),
            {'h': legacy_unsubscribe(key, token), 'id': pid},
        )


def downgrade() -> None:
    # A keyed hash cannot be undone: every participant gets a new random token (links in
    # mail already sent stop working).
    import secrets

    conn = op.get_bind()
    for (pid,) in conn.execute(sa.text('SELECT id FROM participant')).all():
        conn.execute(
            sa.text('UPDATE participant SET unsubscribe_legacy = :t WHERE id = :id'),
            {'t': secrets.token_urlsafe(18), 'id': pid},
        )
    op.execute('ALTER TABLE participant RENAME COLUMN unsubscribe_legacy TO unsubscribe_token')
    with op.batch_alter_table('participant', recreate='never') as batch:
        batch.drop_column('unsubscribe_generation')
