"""The delivery engine's raw SQLite writer, and the router's log reader on it.

Why the path exists: on a SQLite file the two hot writes of
:class:`~syncline.store.deliveries.Deliveries` (``route`` and ``settle``) cost
several times what SQLite needs per row when they go through SQLAlchemy, and
running them on a thread of their own lets SQLite's work overlap the event
loop's. :func:`delivery_writer` builds the
:class:`~syncline.store.raw_sqlite.SqliteWriter` whose connections and threads
run the transactions of :mod:`syncline.store.delivery_sqlite`;
:class:`SqliteLogReader` reads and prunes the event log through it for the
router.
"""

from __future__ import annotations

import asyncio

from syncline.store import delivery_sqlite
from syncline.store.event_log import EventLog, LoggedEvent
from syncline.store.raw_sqlite import SqliteWriter

__all__ = ["SqliteLogReader", "delivery_writer"]

# Rows written between two background checkpoints of the WAL.
_CHECKPOINT_ROWS = 20_000


def delivery_writer(path: str) -> SqliteWriter:
    """The raw writer of event deliveries on the SQLite file ``path``."""
    return SqliteWriter(
        path,
        name="syncline-deliveries",
        what="event delivery",
        # Dedupe keys go to random places of their index: a larger cache writes
        # each page fewer times (the read connection uses it too).
        pragmas=("PRAGMA cache_size=-65536",),
        checkpoint_rows=_CHECKPOINT_ROWS,
    )


class SqliteLogReader:
    """The event log read and pruned through a delivery writer's connections.

    ``turn`` is the lock the writer's owner takes around every write: a prune
    waits there with the delivery writes instead of in SQLite's busy handler.
    :meth:`max_id` asks ``event_log`` itself.
    """

    def __init__(self, writer: SqliteWriter, turn: asyncio.Lock, event_log: EventLog) -> None:
        self._raw = writer
        self._turn = turn
        self._event_log = event_log

    async def read_after(self, after_id: int, limit: int) -> list[LoggedEvent]:
        if limit <= 0:
            return []
        events: list[LoggedEvent] = await self._raw.read(delivery_sqlite.read_log, after_id, limit)
        return events

    async def delete_through(self, event_id: int) -> int:
        async with self._turn:
            deleted: int = await self._raw.run(delivery_sqlite.delete_log, event_id)
        return deleted

    async def max_id(self) -> int:
        return await self._event_log.max_id()
