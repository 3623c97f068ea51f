"""inbound mail: stored messages, bounces, mail standing, answers sent

Revision ID: 0009_inbound_mail
Revises: 0009_staff
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables

revision: str = "0009_inbound_mail"
down_revision: str | None = "0009_staff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("mail_from", sa.String(length=320), nullable=False),
        sa.Column("rcpt_json", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("received_at", models.tables.UTCDateTime(), nullable=False),
        sa.Column("taken_at", models.tables.UTCDateTime(), nullable=True),
        sa.Column("processed_at", models.tables.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_inbound_state", "inbound_message", ["state", "id"])
    op.create_table(
        "mail_bounce",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("campaign_key", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("scored", sa.Float(), nullable=False),
        sa.Column("received_at", models.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_message.id"]),
        sa.ForeignKeyConstraint(["participant_id"], ["participant.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("inbound_id"),
    )
    op.create_index("ix_mail_bounce_participant_id", "mail_bounce", ["participant_id"])
    op.create_index("ix_mail_bounce_campaign_key", "mail_bounce", ["campaign_key"])
    op.create_table(
        "mail_standing",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("last_scored_on", sa.Date(), nullable=True),
        sa.Column("suspended_at", models.tables.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("complaint_at", models.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["participant_id"], ["participant.id"]),
        sa.PrimaryKeyConstraint("participant_id"),
    )
    op.create_table(
        "inbound_answer",
        sa.Column("sender_hash", sa.String(length=64), nullable=False),
        sa.Column("answered_at", models.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sender_hash"),
    )


def downgrade() -> None:
    op.drop_table("inbound_answer")
    op.drop_table("mail_standing")
    op.drop_index("ix_mail_bounce_campaign_key", table_name="mail_bounce")
    op.drop_index("ix_mail_bounce_participant_id", table_name="mail_bounce")
    op.drop_table("mail_bounce")
    op.drop_index("ix_inbound_state", table_name="inbound_message")
    op.drop_table("inbound_message")
