"""Connections, pipelines, runs, checkpoints, imported record IDs, identities, event sources.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("settings", sa.LargeBinary(), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        sa.Column("oauth_account", sa.String(500), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_connections"),
        sa.UniqueConstraint("name", name="uq_connections_name"),
    )
    op.create_table(
        "pipelines",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source_connection_id", Id, nullable=True),
        sa.Column("destination_connection_id", Id, nullable=True),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pipelines"),
        sa.UniqueConstraint("name", name="uq_pipelines_name"),
        sa.CheckConstraint("kind IN ('import', 'export', 'events')", name="ck_pipelines_kind"),
        sa.ForeignKeyConstraint(
            ["source_connection_id"],
            ["connections.id"],
            name="fk_pipelines_source_connection_id_connections",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["destination_connection_id"],
            ["connections.id"],
            name="fk_pipelines_destination_connection_id_connections",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("ix_pipelines_source_connection_id", "pipelines", ["source_connection_id"])
    op.create_index(
        "ix_pipelines_destination_connection_id", "pipelines", ["destination_connection_id"]
    )
    op.create_table(
        "runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("pipeline_id", Id, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("ended_at", Time, nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error_groups", sa.JSON(), nullable=False),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("resumed_from_run_id", Id, nullable=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("heartbeat_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'interrupted')",
            name="ck_runs_status",
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name="fk_runs_pipeline_id_pipelines",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resumed_from_run_id"],
            ["runs.id"],
            name="fk_runs_resumed_from_run_id_runs",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_runs_pipeline_id_started_at", "runs", ["pipeline_id", "started_at"])
    op.create_index(
        "uq_runs_one_running_per_pipeline",
        "runs",
        ["pipeline_id"],
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "pipeline_checkpoints",
        sa.Column("pipeline_id", Id, nullable=False),
        sa.Column("run_id", Id, nullable=True),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("run_high_water", Time, nullable=True),
        sa.Column("high_water", Time, nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("identities_high_water", Time, nullable=True),
        sa.Column("updated_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("pipeline_id", name="pk_pipeline_checkpoints"),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name="fk_pipeline_checkpoints_pipeline_id_pipelines",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name="fk_pipeline_checkpoints_run_id_runs",
            ondelete="SET NULL",
        ),
    )
    op.create_table(
        "pipeline_records",
        sa.Column("pipeline_id", Id, nullable=False),
        sa.Column("record_id", sa.String(500), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pipeline_id", "record_id", name="pk_pipeline_records"),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name="fk_pipeline_records_pipeline_id_pipelines",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_pipeline_records_pipeline_id_generation",
        "pipeline_records",
        ["pipeline_id", "generation"],
    )
    op.create_table(
        "identities",
        sa.Column("pipeline_id", Id, nullable=False),
        sa.Column("matching_value", sa.String(1000), nullable=False),
        sa.Column("app_record_id", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("pipeline_id", "matching_value", name="pk_identities"),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name="fk_identities_pipeline_id_pipelines",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_identities_pipeline_id_app_record_id",
        "identities",
        ["pipeline_id", "app_record_id"],
    )
    op.create_table(
        "event_sources",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("write_key_hash", sa.String(64), nullable=False),
        sa.Column("write_key_prefix", sa.String(12), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_sources"),
        sa.UniqueConstraint("name", name="uq_event_sources_name"),
        sa.UniqueConstraint("write_key_hash", name="uq_event_sources_write_key_hash"),
    )


def downgrade() -> None:
    op.drop_table("event_sources")
    op.drop_table("identities")
    op.drop_table("pipeline_records")
    op.drop_table("pipeline_checkpoints")
    op.drop_table("runs")
    op.drop_table("pipelines")
    op.drop_table("connections")
