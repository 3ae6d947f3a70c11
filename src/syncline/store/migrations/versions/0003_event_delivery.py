"""Event delivery: deliveries and dead letters, dedupe window, counters, routing watermark.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event_deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("pipeline_id", Id, nullable=False),
        sa.Column("connection_id", Id, nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("user_key", sa.String(600), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", Time, nullable=True),
        sa.Column("next_attempt_at", Time, nullable=True),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("request", sa.Text(), nullable=True),
        sa.Column("received_at", Time, nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("dead_at", Time, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_event_deliveries"),
        sa.CheckConstraint("state IN ('pending', 'dead')", name="ck_event_deliveries_state"),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name="fk_event_deliveries_pipeline_id_pipelines",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name="fk_event_deliveries_connection_id_connections",
            ondelete="CASCADE",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_event_deliveries_connection_id_state_id",
        "event_deliveries",
        ["connection_id", "state", "id"],
    )
    op.create_index(
        "ix_event_deliveries_pipeline_id_state", "event_deliveries", ["pipeline_id", "state"]
    )
    op.create_table(
        "event_dedupe",
        sa.Column("pipeline_id", Id, nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("seen_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("pipeline_id", "message_id", name="pk_event_dedupe"),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name="fk_event_dedupe_pipeline_id_pipelines",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_event_dedupe_seen_at", "event_dedupe", ["seen_at"])
    op.create_table(
        "event_counters",
        sa.Column("pipeline_id", Id, nullable=False),
        sa.Column("step", sa.String(20), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pipeline_id", "step", name="pk_event_counters"),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name="fk_event_counters_pipeline_id_pipelines",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "event_routing",
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("after_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_event_routing"),
    )


def downgrade() -> None:
    op.drop_table("event_routing")
    op.drop_table("event_counters")
    op.drop_index("ix_event_dedupe_seen_at", table_name="event_dedupe")
    op.drop_table("event_dedupe")
    op.drop_index("ix_event_deliveries_pipeline_id_state", table_name="event_deliveries")
    op.drop_index("ix_event_deliveries_connection_id_state_id", table_name="event_deliveries")
    op.drop_table("event_deliveries")
