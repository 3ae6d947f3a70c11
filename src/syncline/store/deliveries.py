"""Event deliveries, dead letters, the dedupe window, counters and the routing watermark.

The delivery engine (:mod:`syncline.engine.delivery`) keeps all of its durable
state here, in four tables (migration ``0003``):

* ``event_deliveries`` — one row per (event, event pipeline) not yet delivered:
  ``pending`` (waiting, or waiting for a retry) or ``dead`` (a dead letter). A
  delivered row is deleted in the transaction that records the delivery. Row
  ids grow in routing order, which is the event log's acceptance order, so a
  user's rows in id order are that user's events in the order they arrived.
* ``event_dedupe`` — the ``messageId`` values each pipeline accepted within the
  dedupe window (24 hours by default).
* ``event_counters`` — per pipeline and step (``received``, ``filtered``,
  ``duplicate``, ``mapped``, ``invalid``, ``delivered``, ``retried``, ``dead``,
  ``replayed``), incremented in the same transaction as the rows they count.
* ``event_routing`` — the id of the last event log row routed.

Every method is one short transaction. :meth:`Deliveries.route` commits new
rows, dedupe keys, counters and the watermark together: a crash before the
commit routes the same log rows again; after it, never again (no gap, no
double routing). :meth:`Deliveries.settle` records one batch's outcome at once.

On a SQLite file the two hot writes, :meth:`~Deliveries.route` and
:meth:`~Deliveries.settle`, go through a connection of their own in a thread of
their own (:class:`~syncline.store.raw_sqlite.SqliteWriter`) with
multi-row statements (:mod:`syncline.store.delivery_sqlite`): SQLAlchemy's
per-parameter processing cost several times what SQLite needs per row, and the
thread lets SQLite's work overlap the event loop's. The rows they write are the
ones SQLAlchemy would write (same column formats); PostgreSQL keeps the
SQLAlchemy path (:mod:`syncline.store.delivery_sqlalchemy`).

This module holds :class:`Deliveries`, which chooses the path, and the
SQLAlchemy statements of the methods that have one path on every backend
(dead letters, replay, counters, backlog, the dedupe prune); the row types it
takes and returns are defined in :mod:`syncline.store.delivery_rows` and
importable from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from syncline.store import delivery_sqlalchemy, delivery_sqlite
from syncline.store.database import Database, chunks
from syncline.store.delivery_rows import (
    DEDUPE_WINDOW,
    ROUTER,
    STEPS,
    DeadLetter,
    Delivery,
    LogReader,
    NewDelivery,
    RetryUpdate,
    Settlement,
)
from syncline.store.delivery_writer import SqliteLogReader, delivery_writer
from syncline.store.event_log import EventLog
from syncline.store.raw_sqlite import sqlite_file
from syncline.store.schema import (
    event_counters,
    event_dedupe,
    event_deliveries,
    event_routing,
    pipelines,
)

__all__ = [
    "DEDUPE_WINDOW",
    "STEPS",
    "DeadLetter",
    "Deliveries",
    "Delivery",
    "LogReader",
    "NewDelivery",
    "RetryUpdate",
    "Settlement",
]


class Deliveries:
    """The delivery engine's tables; see the module docstring.

    :meth:`close` closes the SQLite fast path's connections (opened on first use,
    and again on the next use after a close); its threads end when the object is
    garbage-collected, which also closes the connections.
    """

    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self._db = db
        self._clock = clock
        # Writers of one process take turns here instead of in SQLite's busy
        # handler, whose sleeps (up to 100 ms each) would stall every sender.
        self._write_turn = asyncio.Lock()
        path = sqlite_file(db)
        # RETURNING (the dedupe upsert) needs SQLite 3.35.
        fast = sqlite3.sqlite_version_info >= (3, 35)
        self._raw = delivery_writer(path) if path is not None and fast else None

    def close(self) -> None:
        """Close the SQLite writer's connection (it opens again on the next write)."""
        if self._raw is not None:
            self._raw.close()

    def log_reader(self, event_log: EventLog) -> LogReader:
        """What the router reads and prunes the store's event log with.

        On a SQLite file, reads and prunes go through this object's SQLite
        connection (a prune then takes its turn with the delivery writes
        instead of waiting in SQLite's busy handler); elsewhere, ``event_log``
        itself.
        """
        if self._raw is None:
            return event_log
        return SqliteLogReader(self._raw, self._write_turn, event_log)

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self._write_turn, self._db.write() as conn:
            yield conn

    # -- routing ---------------------------------------------------------------

    async def watermark(self) -> int:
        """The id of the last event log row routed (0 before the first)."""
        async with self._db.read() as conn:
            value = await conn.scalar(
                sa.select(event_routing.c.after_id).where(event_routing.c.name == ROUTER)
            )
        return int(value or 0)

    async def route(
        self,
        through_id: int,
        rows: Sequence[NewDelivery],
        counts: Counter[tuple[int, str]],
        *,
        window: timedelta = DEDUPE_WINDOW,
    ) -> tuple[Counter[tuple[int, str]], list[Delivery]]:
        """Commit the rows routed from the log up to ``through_id``, in one transaction.

        ``rows`` are in log order. A row whose ``(pipeline_id, message_id)`` the
        pipeline accepted within ``window`` (or earlier in ``rows``) is dropped
        and counted as ``duplicate``; the others are inserted (``pending``, or
        ``dead`` when they carry an ``error``), counted as ``mapped`` or
        ``invalid``, and their keys remembered. ``counts`` (e.g. ``received``,
        ``filtered``) are added to the counters and the watermark moves to
        ``through_id``. Returns every count added and the pending rows created,
        in id order (each with its ``message`` when the new row had one).
        """
        if self._raw is not None:
            # The statements are built here, before the write lock is taken.
            statements = delivery_sqlite.route_statements(rows, self._clock(), window)
            async with self._write_turn:
                counted, inserted, first = await self._raw.run(
                    delivery_sqlite.route, through_id, rows, counts, statements
                )
            return counted, [delivery_sqlite.created(first + i, r) for i, r in enumerate(inserted)]
        now = self._clock()
        async with self._write() as conn:
            return await delivery_sqlalchemy.route(
                self._db, conn, through_id, rows, counts, now, window
            )

    async def pending_between(self, connection_id: int, after_id: int, before_id: int) -> bool:
        """Whether the connection has a pending row with ``after_id < id < before_id``."""
        query = (
            sa.select(event_deliveries.c.id)
            .where(
                event_deliveries.c.connection_id == connection_id,
                event_deliveries.c.state == "pending",
                event_deliveries.c.id > after_id,
                event_deliveries.c.id < before_id,
            )
            .limit(1)
        )
        async with self._db.read() as conn:
            return (await conn.scalar(query)) is not None

    async def forget_before(self, before: datetime) -> int:
        """Drop dedupe keys seen before ``before``; returns how many."""
        async with self._write() as conn:
            result = await conn.execute(
                event_dedupe.delete().where(event_dedupe.c.seen_at < before)
            )
        return int(result.rowcount or 0)

    # -- sending ---------------------------------------------------------------

    async def pending(self, connection_id: int, after_id: int, limit: int) -> list[Delivery]:
        """Up to ``limit`` pending rows of the connection with id > ``after_id``, in id order."""
        if self._raw is not None:
            rows: list[Delivery] = await self._raw.read(
                delivery_sqlite.pending, connection_id, after_id, limit
            )
            return rows
        query = (
            sa.select(event_deliveries)
            .where(
                event_deliveries.c.connection_id == connection_id,
                event_deliveries.c.state == "pending",
                event_deliveries.c.id > after_id,
            )
            .order_by(event_deliveries.c.id)
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [delivery_sqlalchemy.delivery(row) for row in await conn.execute(query)]

    async def pending_ids(self, connection_id: int, through_id: int) -> list[int]:
        """Ids of the connection's pending rows up to ``through_id``, in order.

        A sender compares them with what it holds: on PostgreSQL a row can
        become visible after rows with higher ids (a replay committed while
        routing ran), which reading forward by id alone would miss.
        """
        query = (
            sa.select(event_deliveries.c.id)
            .where(
                event_deliveries.c.connection_id == connection_id,
                event_deliveries.c.state == "pending",
                event_deliveries.c.id <= through_id,
            )
            .order_by(event_deliveries.c.id)
        )
        async with self._db.read() as conn:
            return [int(i) for (i,) in await conn.execute(query)]

    async def by_ids(self, ids: Sequence[int]) -> list[Delivery]:
        """The pending rows with these ids, in id order."""
        found: list[Delivery] = []
        async with self._db.read() as conn:
            for part in chunks(sorted(ids)):
                query = sa.select(event_deliveries).where(
                    event_deliveries.c.id.in_(part), event_deliveries.c.state == "pending"
                )
                found.extend(delivery_sqlalchemy.delivery(row) for row in await conn.execute(query))
        return sorted(found, key=lambda d: d.id)

    async def settle(self, settlement: Settlement) -> None:
        """Record one batch's outcome in one transaction.

        Delivered rows are deleted; each update sets its row's attempts, times,
        error and request, and makes it ``dead`` when ``dead`` is set; the
        counts are added.
        """
        if self._raw is not None:
            async with self._write_turn:
                await self._raw.run(delivery_sqlite.settle, settlement, self._clock())
            return
        now = self._clock()
        async with self._write() as conn:
            await delivery_sqlalchemy.settle(self._db, conn, settlement, now)

    # -- dead letters, replay, counters -------------------------------------------

    async def dead(
        self,
        *,
        connection_id: int | None = None,
        pipeline_id: int | None = None,
        since: datetime | None = None,
        ids: Iterable[int] | None = None,
        after_id: int = 0,
        limit: int | None = None,
    ) -> list[DeadLetter]:
        """Dead letters in id order, optionally of one connection, one pipeline,
        dead since a time, with given ids, or with id > ``after_id``."""
        query = (
            sa.select(event_deliveries, pipelines.c.name)
            .join(pipelines, pipelines.c.id == event_deliveries.c.pipeline_id)
            .where(event_deliveries.c.state == "dead", event_deliveries.c.id > after_id)
            .order_by(event_deliveries.c.id)
        )
        if connection_id is not None:
            query = query.where(event_deliveries.c.connection_id == connection_id)
        if pipeline_id is not None:
            query = query.where(event_deliveries.c.pipeline_id == pipeline_id)
        if since is not None:
            query = query.where(event_deliveries.c.dead_at >= since)
        if ids is not None:
            query = query.where(event_deliveries.c.id.in_(list(ids)))
        if limit is not None:
            query = query.limit(limit)
        async with self._db.read() as conn:
            return [delivery_sqlalchemy.dead_letter(row) for row in await conn.execute(query)]

    async def replay(self, replaced: Sequence[tuple[int, NewDelivery]]) -> int:
        """Move dead letters back to the queue, behind the events already pending.

        Each ``(dead_id, row)`` deletes the dead letter and inserts ``row`` as
        a new row (a new, higher id: it is delivered after every event of that
        user already routed); a row carrying an ``error`` is dead again at
        once. Dead letters already gone (replayed or removed by another
        process) are skipped. Returns how many were replayed.
        """
        now = self._clock()
        counts: Counter[tuple[int, str]] = Counter()
        done = 0
        async with self._write() as conn:
            for dead_id, row in replaced:
                result = await conn.execute(
                    event_deliveries.delete().where(
                        event_deliveries.c.id == dead_id, event_deliveries.c.state == "dead"
                    )
                )
                if not result.rowcount:
                    continue
                await conn.execute(
                    event_deliveries.insert().values(delivery_sqlalchemy.new_row(row, now))
                )
                counts[(row.pipeline_id, "replayed")] += 1
                if row.error:
                    counts[(row.pipeline_id, "dead")] += 1
                done += 1
            await delivery_sqlalchemy.add_counts(self._db, conn, counts)
        return done

    async def counters(self) -> dict[int, dict[str, int]]:
        """``{pipeline_id: {step: count}}`` for every pipeline with a count."""
        found: dict[int, dict[str, int]] = {}
        async with self._db.read() as conn:
            for pipeline_id, step, count in await conn.execute(sa.select(event_counters)):
                found.setdefault(pipeline_id, {})[step] = int(count)
        return found

    async def backlog(self) -> dict[int, dict[str, int]]:
        """``{pipeline_id: {"pending": n, "dead": n}}``: rows waiting and dead letters."""
        query = sa.select(
            event_deliveries.c.pipeline_id, event_deliveries.c.state, sa.func.count()
        ).group_by(event_deliveries.c.pipeline_id, event_deliveries.c.state)
        found: dict[int, dict[str, int]] = {}
        async with self._db.read() as conn:
            for pipeline_id, state, count in await conn.execute(query):
                found.setdefault(pipeline_id, {"pending": 0, "dead": 0})[state] = int(count)
        return found
