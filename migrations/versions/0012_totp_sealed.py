"""staff TOTP secrets sealed at rest (AES-GCM under a key derived from the portal's key)

Revision ID: 0012_totp_sealed
Revises: 0011_unsubscribe_tokens
Create Date: 2026-12-03

``staff_member.totp_secret`` (the base32 secret in clear) becomes ``totp_sealed``: the same
secret sealed by ``services.sealed`` (AES-256-GCM, its key derived with HKDF from the portal's
secret, bound to the staff row). Every enrolled or half-enrolled member keeps their
authenticator. Run it with the portal's secret (``WSIS_PORTAL_SECRET``, or
``var/portal-secret``), as the portal runs: sealed under another key, the secrets would not
open and staff would have to enrol again. A column is added and the old one dropped (SQLite
and PostgreSQL drop a column in place): rebuilding staff_member would trip the foreign keys
to it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_totp_sealed"
down_revision: str | None = "0011_unsubscribe_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> bytes:
    from core.settings import get_settings

    return get_settings().portal_key()


def upgrade() -> None:
    from services.sealed import seal

    op.add_column("staff_member", sa.Column("totp_sealed", sa.String(length=128), nullable=True))
    conn = op.get_bind()
    key = _key()
    rows = conn.execute(
        sa.text("SELECT id, totp_secret FROM staff_member WHERE totp_secret IS NOT NULL")
    ).all()
    for staff_id, secret in rows:
        conn.execute(
            sa.text("UPDATE staff_member SET totp_sealed = :s WHERE id = :id"),
            {"s": seal(key, staff_id, secret), "id": staff_id},
        )
    with op.batch_alter_table("staff_member", recreate="never") as batch:
        batch.drop_column("totp_secret")


def downgrade() -> None:
    # Opened again with the same key; a secret that does not open (another key) is dropped,
    # and its member enrols again.
    from services.sealed import unseal

    op.add_column("staff_member", sa.Column("totp_secret", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    key = _key()
    rows = conn.execute(
        sa.text("SELECT id, totp_sealed FROM staff_member WHERE totp_sealed IS NOT NULL")
    ).all()
    for staff_id, kept in rows:
        secret = unseal(key, staff_id, kept)
        if secret is None:
            conn.execute(
                sa.text("UPDATE staff_member SET totp_last_step = NULL WHERE id = :id"),
                {"id": staff_id},
            )
            continue
        conn.execute(
            sa.text("UPDATE staff_member SET totp_secret = :s WHERE id = :id"),
            {"s": secret, "id": staff_id},
        )
    with op.batch_alter_table("staff_member", recreate="never") as batch:
        batch.drop_column("totp_sealed")
