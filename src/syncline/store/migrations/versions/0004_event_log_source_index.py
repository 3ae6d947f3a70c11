"""The event log: index the source alone, not the source and the message id.

Every append inserted one random UUID into the ``(source_id, message_id)``
index, dirtying a random page of it per event: measured, about half of the
collector's appending cost (WAL pages written and fsynced per commit). Nothing
reads the log by message id (delivery dedupes in ``event_dedupe``); what reads
it by source (``delete_source``, ``count(source_id)`` and the foreign key
check when a source is removed) keeps an index on ``source_id`` alone, whose
new entries land at the end of their source's range.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_event_log_source_id_message_id", table_name="event_log")
    op.create_index("ix_event_log_source_id", "event_log", ["source_id"])


def downgrade() -> None:
    op.drop_index("ix_event_log_source_id", table_name="event_log")
    op.create_index("ix_event_log_source_id_message_id", "event_log", ["source_id", "message_id"])
