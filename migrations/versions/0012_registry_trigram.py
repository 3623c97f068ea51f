"""PostgreSQL: trigram indexes on the registry's names, addresses and organisations

Revision ID: 0012_registry_trigram
Revises: 0012_totp_sealed
Create Date: 2026-12-03

The console's participant search (``services.lists``) is ``ILIKE '%text%'`` on PostgreSQL:
without an index, a scan of the whole registry (300,000 rows). ``pg_trgm``'s GIN indexes
answer it from the three-character pieces of the text, as SQLite's FTS5 trigram index does
(migration 0009_staff). PostgreSQL only; on SQLite this migration does nothing.

``pg_trgm`` ships with PostgreSQL's contrib (the official images, Debian's
``postgresql-contrib``) and is a trusted extension (PostgreSQL 13+: the database's owner may
create it). Where it is not installed (the ``pgserver`` wheel the tests use ships no contrib)
or may not be created, the migration says so in one line and goes on: search still works, as
a scan. Running ``starter.py db upgrade`` again after installing it does not revisit this
revision: create the indexes then with the statements below (``INDEXES``).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_registry_trigram'
down_revision: str | None = '0012_totp_sealed'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ('name', 'email', 'organization')
INDEXES = [
    f'CREATE INDEX IF NOT EXISTS participant_{c}_trgm ON participant USING gin ({c} gin_trgm_ops)'
    for c in COLUMNS
]


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != 'postgresql':
        return
    available = conn.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    if available is None:
        print('0012_registry_trigram: pg_trgm is not installed on this server (PostgreSQL '
              'contrib): participant search stays a scan')  # fmt: skip
        return
    try:
        with conn.begin_nested():
            conn.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
    except sa.exc.DBAPIError as exc:
        print(f'0012_registry_trigram: pg_trgm could not be created ({type(exc.orig).__name__}):'
              ' participant search stays a scan')  # fmt: skip
        return
    for statement in INDEXES:
        conn.execute(sa.text(statement))


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for column in COLUMNS:
        op.execute(f'DROP INDEX IF EXISTS participant_{column}_trgm')
