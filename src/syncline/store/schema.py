"""Table definitions of the store (SQLAlchemy Core metadata).

This metadata is the *target* the Alembic migrations must reach: a test compares
the database after ``upgrade head`` with it on SQLite and on PostgreSQL, so a table
or column added here without a migration (or the reverse) fails the suite. See
:mod:`syncline.store.migrations` for how to add one.

Identifiers are integers (``BIGINT`` on PostgreSQL, ``INTEGER PRIMARY KEY`` on
SQLite so that it aliases the rowid). Times are stored in UTC and always read back
as timezone-aware ``datetime`` values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "PIPELINE_KINDS",
    "RUN_STATUSES",
    "UTCDateTime",
    "connections",
    "event_counters",
    "event_dedupe",
    "event_deliveries",
    "event_log",
    "event_routing",
    "event_sources",
    "identities",
    "metadata",
    "pipeline_checkpoints",
    "pipeline_records",
    "pipelines",
    "runs",
]

PIPELINE_KINDS = ("import", "export", "events")
RUN_STATUSES = ("running", "succeeded", "failed", "interrupted")

# Named constraints make migrations reproducible across backends.
#
# Check constraints are named ``ck_<table>_<name>`` where ``<name>`` is the full
# name the migration scripts gave them (``ck_runs_status``): Alembic applies this
# convention to the scripts' names too, so every migrated database holds
# ``ck_runs_ck_runs_status``. The metadata states the same name, because a new
# database is created from it (syncline.store.migrations) and must be
# indistinguishable from a migrated one.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back timezone-aware.

    Binding a naive ``datetime`` is an error: the store cannot know its zone.
    SQLite has no zone-aware type, so the value is stored as naive UTC there.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store needs timezone-aware datetimes (got a naive one)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("connector", sa.String(100), nullable=False),
    # JSON list of "source" / "destination".
    sa.Column("roles", sa.JSON(), nullable=False),
    # Fernet token of the JSON settings; see syncline.store.cipher.
    sa.Column("settings", sa.LargeBinary(), nullable=False),
    # Bumped on every settings write: the compare-and-swap token.
    sa.Column("settings_version", sa.Integer(), nullable=False),
    sa.Column("oauth_account", sa.String(500), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column(
        "source_connection_id",
        Id,
        sa.ForeignKey("connections.id", ondelete="RESTRICT"),
        nullable=True,
        index=True,
    ),
    sa.Column(
        "destination_connection_id",
        Id,
        sa.ForeignKey("connections.id", ondelete="RESTRICT"),
        nullable=True,
        index=True,
    ),
    sa.Column("target", sa.String(100), nullable=False),
    sa.Column("config", sa.JSON(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # Declared here, in this order, so that CREATE TABLE lists the constraints
    # as migration 0001 does (the check's name: see ``metadata``).
    sa.UniqueConstraint("name"),
    sa.CheckConstraint("kind IN ('import', 'export', 'events')", name="ck_pipelines_kind"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column(
        "pipeline_id",
        Id,
        sa.ForeignKey("pipelines.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("full", sa.Boolean(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("ended_at", UTCDateTime(), nullable=True),
    # {"step": count}, written with each checkpoint.
    sa.Column("counts", sa.JSON(), nullable=False),
    # [{"message", "count", "sample_record_id"}], one entry per distinct message.
    sa.Column("error_groups", sa.JSON(), nullable=False),
    # {"step": seconds}
    sa.Column("timings", sa.JSON(), nullable=False),
    # Why the run as a whole failed (a fixed message, no personal data).
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column(
        "resumed_from_run_id",
        Id,
        sa.ForeignKey("runs.id", ondelete="SET NULL"),
        nullable=True,
    ),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint(
        "status IN ('running', 'succeeded', 'failed', 'interrupted')", name="ck_runs_status"
    ),
    sa.Index("ix_runs_pipeline_id_started_at", "pipeline_id", "started_at"),
    # At most one live run per pipeline, enforced by the database itself. The
    # index is partial on both backends: migration 0001 creates it with
    # ``postgresql_where`` too, and a store test checks the WHERE clause on each
    # backend. The PostgreSQL option is left out here because SQLAlchemy checks
    # an Index's dialect options by importing that dialect, which costs every
    # SQLite process about 40 ms and 2 MB; Alembic's comparison of the
    # metadata with the database does not look at either WHERE clause.
    sa.Index(
        "uq_runs_one_running_per_pipeline",
        "pipeline_id",
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
    ),
)

pipeline_checkpoints = sa.Table(
    "pipeline_checkpoints",
    metadata,
    sa.Column(
        "pipeline_id",
        Id,
        sa.ForeignKey("pipelines.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # The run whose progress cursor/run_high_water describe; NULL when none is pending.
    sa.Column("run_id", Id, sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
    sa.Column("cursor", sa.Text(), nullable=True),
    sa.Column("run_high_water", UTCDateTime(), nullable=True),
    # Promoted when a run succeeds: where the next incremental run starts.
    sa.Column("high_water", UTCDateTime(), nullable=True),
    # Bumped by every new full run; records seen in it carry this number.
    sa.Column("generation", sa.Integer(), nullable=False),
    # High-water of the export identity map refresh (app records' updated_at).
    sa.Column("identities_high_water", UTCDateTime(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# IDs a pipeline has imported, with the generation of the last full run that saw
# them: after a full run, rows with an older generation are what the app no
# longer returns and can be purged from the destination.
pipeline_records = sa.Table(
    "pipeline_records",
    metadata,
    sa.Column(
        "pipeline_id",
        Id,
        sa.ForeignKey("pipelines.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("record_id", sa.String(500), primary_key=True),
    sa.Column("generation", sa.Integer(), nullable=False),
    sa.Index("ix_pipeline_records_pipeline_id_generation", "pipeline_id", "generation"),
)

# Export matching: the app's records keyed by the pipeline's matching value.
identities = sa.Table(
    "identities",
    metadata,
    sa.Column(
        "pipeline_id",
        Id,
        sa.ForeignKey("pipelines.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("matching_value", sa.String(1000), primary_key=True),
    sa.Column("app_record_id", sa.String(500), nullable=False),
    sa.Index("ix_identities_pipeline_id_app_record_id", "pipeline_id", "app_record_id"),
)

event_sources = sa.Table(
    "event_sources",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    # SHA-256 (hex) of the write key; the key itself is never stored.
    sa.Column("write_key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("write_key_prefix", sa.String(12), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# Every accepted event, in the order the collector accepted it. ``id`` is that
# order; AUTOINCREMENT on SQLite keeps ids from being reused after the log is
# pruned to empty (a plain rowid would restart below what readers have seen).
event_log = sa.Table(
    "event_log",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column(
        "source_id",
        Id,
        # A source with events still in the log cannot be removed by accident.
        sa.ForeignKey("event_sources.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column("message_id", sa.Text(), nullable=False),
    sa.Column("anonymous_id", sa.Text(), nullable=True),
    sa.Column("user_id", sa.Text(), nullable=True),
    sa.Column("type", sa.Text(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    # The normalized message, orjson-encoded.
    sa.Column("payload", sa.LargeBinary(), nullable=False),
    sa.Index("ix_event_log_source_id", "source_id"),
    sqlite_autoincrement=True,
)


# -- event delivery (migration 0003) ------------------------------------------

DELIVERY_STATES = ("pending", "dead")

# One row per (event, event pipeline) still to deliver, or dead-lettered. A
# delivered event's row is deleted in the transaction that records the
# delivery. Ids grow in routing order, which is the log's acceptance order:
# a sender delivers a user's rows in id order.
event_deliveries = sa.Table(
    "event_deliveries",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("pipeline_id", Id, sa.ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "connection_id", Id, sa.ForeignKey("connections.id", ondelete="CASCADE"), nullable=False
    ),
    # The event log's id of the message (kept after the log is truncated).
    sa.Column("event_id", sa.BigInteger(), nullable=False),
    sa.Column("message_id", sa.String(200), nullable=False),
    # "a:" + anonymous ID, else "u:" + user ID: the per-user ordering key.
    sa.Column("user_key", sa.String(600), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("first_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    # The event type values the pipeline's mapping computed (None: no schema,
    # or the mapping failed and the row is dead).
    sa.Column("values", sa.JSON(), nullable=True),
    # The normalized Segment message (orjson), as the log held it.
    sa.Column("payload", sa.LargeBinary(), nullable=False),
    # The last error: a fixed message without personal data.
    sa.Column("error", sa.Text(), nullable=True),
    # The redacted request of the last attempt (method, URL, headers, body).
    sa.Column("request", sa.Text(), nullable=True),
    sa.Column("received_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("dead_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'dead')", name="ck_event_deliveries_state"),
    sa.Index("ix_event_deliveries_connection_id_state_id", "connection_id", "state", "id"),
    sa.Index("ix_event_deliveries_pipeline_id_state", "pipeline_id", "state"),
    # Delivered rows are deleted: AUTOINCREMENT keeps SQLite from reusing ids,
    # which would put a new event before older ones in a sender's id order.
    sqlite_autoincrement=True,
)

# messageIds an event pipeline has accepted within the dedupe window.
event_dedupe = sa.Table(
    "event_dedupe",
    metadata,
    sa.Column(
        "pipeline_id",
        Id,
        sa.ForeignKey("pipelines.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("message_id", sa.String(200), primary_key=True),
    sa.Column("seen_at", UTCDateTime(), nullable=False),
    sa.Index("ix_event_dedupe_seen_at", "seen_at"),
)

# Counters per event pipeline and step (received, filtered, mapped, ...).
event_counters = sa.Table(
    "event_counters",
    metadata,
    sa.Column(
        "pipeline_id",
        Id,
        sa.ForeignKey("pipelines.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("step", sa.String(20), primary_key=True),
    sa.Column("count", sa.BigInteger(), nullable=False),
)

# The routing watermark: the last event log id routed to the pipelines.
event_routing = sa.Table(
    "event_routing",
    metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("after_id", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
