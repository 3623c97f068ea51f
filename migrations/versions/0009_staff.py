"""staff: accounts with a role and a second factor, their sessions, the append-only audit log

Revision ID: 0009_staff
Revises: 0009_portal_hardening
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables

revision: str = '0009_staff'
down_revision: str | None = '0009_portal_hardening'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit log is append-only: the database itself refuses an UPDATE or a DELETE.
_SQLITE_GUARDS = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
]
_POSTGRES_GUARDS = [
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
]


# SQLite: a trigram full-text index of the registry's names, addresses and organisations, so
# that a search for any three or more characters anywhere in them answers at once over
# 300,000 participants (services/lists.py). Kept in step by triggers.
_SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE participant_search USING fts5(name, email, organization, "
    "content='participant', content_rowid='id', tokenize='trigram')",
    "INSERT INTO participant_search(participant_search) VALUES('rebuild')",
    "CREATE TRIGGER participant_search_insert AFTER INSERT ON participant BEGIN "
    "INSERT INTO participant_search(rowid, name, email, organization) "
    "VALUES (new.id, new.name, new.email, new.organization); END",
    "CREATE TRIGGER participant_search_delete AFTER DELETE ON participant BEGIN "
    "INSERT INTO participant_search(participant_search, rowid, name, email, organization) "
    "VALUES ('delete', old.id, old.name, old.email, old.organization); END",
    "CREATE TRIGGER participant_search_update AFTER UPDATE OF name, email, organization "
    "ON participant BEGIN "
    "INSERT INTO participant_search(participant_search, rowid, name, email, organization) "
    "VALUES ('delete', old.id, old.name, old.email, old.organization); "
    "INSERT INTO participant_search(rowid, name, email, organization) "
    "VALUES (new.id, new.name, new.email, new.organization); END",
]


def upgrade() -> None:
    op.create_table(
        'staff_member',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('totp_secret', sa.String(length=64), nullable=True),
        sa.Column('totp_last_step', sa.Integer(), nullable=True),
        sa.Column('created_at', models.tables.UTCDateTime(), nullable=False),
        sa.Column('removed_at', models.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['participant_id'], ['participant.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('participant_id'),
    )
    op.create_table(
        'staff_session',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('created_at', models.tables.UTCDateTime(), nullable=False),
        sa.Column('last_seen_at', models.tables.UTCDateTime(), nullable=False),
        sa.Column('second_factor_at', models.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['staff_id'], ['staff_member.id']),
        sa.PrimaryKeyConstraint('id_hash'),
    )
    op.create_index('ix_staff_session_staff_id', 'staff_session', ['staff_id'])
    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', models.tables.UTCDateTime(), nullable=False),
        sa.Column('actor', sa.String(length=80), nullable=False),
        sa.Column('action', sa.String(length=60), nullable=False),
        sa.Column('target', sa.String(length=200), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'])
    op.create_index('ix_participant_name', 'participant', ['name'])
    sqlite = op.get_bind().dialect.name != 'postgresql'
    for statement in (_SQLITE_GUARDS + _SQLITE_SEARCH) if sqlite else _POSTGRES_GUARDS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER participant_search_{name}")
        op.execute("DROP TABLE participant_search")
    op.drop_index('ix_participant_name', table_name='participant')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index('ix_staff_session_staff_id', table_name='staff_session')
    op.drop_table('staff_session')
    op.drop_table('staff_member')
