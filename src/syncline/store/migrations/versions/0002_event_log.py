"""The event log: every event the collector accepted, in acceptance order.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("source_id", Id, nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("anonymous_id", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("received_at", Time, nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_log"),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["event_sources.id"],
            name="fk_event_log_source_id_event_sources",
            ondelete="RESTRICT",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_event_log_source_id_message_id", "event_log", ["source_id", "message_id"])


def downgrade() -> None:
    op.drop_index("ix_event_log_source_id_message_id", table_name="event_log")
    op.drop_table("event_log")
