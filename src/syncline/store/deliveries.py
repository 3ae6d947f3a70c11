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
their own (:class:`_SqliteWriter`) with the driver's ``executemany``: SQLAlchemy's
per-parameter processing cost several times what SQLite needs per row, and the
thread lets SQLite's work overlap the event loop's. The rows they write are the
ones SQLAlchemy would write (same column formats); PostgreSQL keeps the
SQLAlchemy path.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from syncline.store.database import BUSY_TIMEOUT_MS, Database, chunks
from syncline.store.event_log import EventLog, LoggedEvent
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

DEDUPE_WINDOW = timedelta(hours=24)
"""How long a pipeline remembers a ``messageId`` it accepted."""

STEPS = (
    "received",
    "filtered",
    "duplicate",
    "mapped",
    "invalid",
    "delivered",
    "retried",
    "dead",
    "replayed",
)
"""The counter steps, in pipeline order."""

_ROUTER = "router"


# NewDelivery and Delivery are built once per routed event: plain slots
# dataclasses, read-only by convention. A frozen one sets each field through
# object.__setattr__ (measured: 1.9 µs against 0.25 µs for 13 fields).


@dataclass(slots=True)
class NewDelivery:
    """A row to create: an event routed to one pipeline (treat it as read-only).

    ``error`` set means the event failed the pipeline's mapping or validation:
    the row is created dead at once (a dead letter with 0 attempts).
    """

    pipeline_id: int
    connection_id: int
    event_id: int
    message_id: str
    user_key: str
    values: dict[str, Any] | None
    payload: bytes
    received_at: datetime | None
    error: str | None = None
    # The decoded payload when the caller has it (not stored): handed on with
    # the routed row so the sender does not decode the message again.
    message: dict[str, Any] | None = None


@dataclass(slots=True)
class Delivery:
    """A pending row, as a sender loads it (treat it as read-only)."""

    id: int
    pipeline_id: int
    connection_id: int
    event_id: int
    message_id: str
    user_key: str
    attempts: int
    first_attempt_at: datetime | None
    next_attempt_at: datetime | None
    values: dict[str, Any] | None
    payload: bytes
    received_at: datetime | None
    message: dict[str, Any] | None = None
    """The decoded payload, when it came from :meth:`Deliveries.route` (not stored)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead-lettered event: what it was, where it went, why it died."""

    id: int
    pipeline_id: int
    pipeline: str
    connection_id: int
    event_id: int
    message_id: str
    user_key: str
    attempts: int
    error: str | None
    request: str | None
    payload: bytes
    received_at: datetime | None
    created_at: datetime
    first_attempt_at: datetime | None
    dead_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """The dead letter as JSON values (the message is left out: it may hold personal data)."""
        return {
            "id": self.id,
            "pipeline": self.pipeline,
            "event_id": self.event_id,
            "message_id": self.message_id,
            "attempts": self.attempts,
            "error": self.error,
            "request": self.request,
            "received_at": _iso(self.received_at),
            "routed_at": _iso(self.created_at),
            "first_attempt_at": _iso(self.first_attempt_at),
            "dead_at": _iso(self.dead_at),
        }


@dataclass(frozen=True, slots=True)
class RetryUpdate:
    """A row that failed retryably (``dead=False``) or for good (``dead=True``)."""

    id: int
    attempts: int
    first_attempt_at: datetime | None
    next_attempt_at: datetime | None
    error: str
    request: str | None
    dead: bool = False


@dataclass(slots=True)
class Settlement:
    """The outcome of one ``send_events`` call, recorded by :meth:`Deliveries.settle`."""

    delivered: list[int]
    updates: list[RetryUpdate]
    counts: Counter[tuple[int, str]]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _delivery(row: sa.Row[Any]) -> Delivery:
    m = row._mapping
    return Delivery(
        id=m["id"],
        pipeline_id=m["pipeline_id"],
        connection_id=m["connection_id"],
        event_id=m["event_id"],
        message_id=m["message_id"],
        user_key=m["user_key"],
        attempts=m["attempts"],
        first_attempt_at=m["first_attempt_at"],
        next_attempt_at=m["next_attempt_at"],
        values=m["values"],
        payload=m["payload"],
        received_at=m["received_at"],
    )


def _dead(row: sa.Row[Any]) -> DeadLetter:
    m = row._mapping
    return DeadLetter(
        id=m["id"],
        pipeline_id=m["pipeline_id"],
        pipeline=m["name"],
        connection_id=m["connection_id"],
        event_id=m["event_id"],
        message_id=m["message_id"],
        user_key=m["user_key"],
        attempts=m["attempts"],
        error=m["error"],
        request=m["request"],
        payload=m["payload"],
        received_at=m["received_at"],
        created_at=m["created_at"],
        first_attempt_at=m["first_attempt_at"],
        dead_at=m["dead_at"],
    )


class LogReader(Protocol):
    """Reading and pruning the event log, as the router does (see :meth:`Deliveries.log_reader`)."""

    async def read_after(self, after_id: int, limit: int) -> Sequence[LoggedEvent]: ...

    async def delete_through(self, event_id: int) -> int: ...

    async def max_id(self) -> int: ...


class Deliveries:
    """The delivery engine's tables; see the module docstring.

    :meth:`close` releases the SQLite writer's connection and thread (opened on
    the first :meth:`route` or :meth:`settle`; they are also released when the
    object is garbage-collected).
    """

    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self._db = db
        self._clock = clock
        # Writers of one process take turns here instead of in SQLite's busy
        # handler, whose sleeps (up to 100 ms each) would stall every sender.
        self._write_turn = asyncio.Lock()
        path = db.url.database if db.is_sqlite else None
        # An in-memory database is private to its connection: use the engine's.
        # RETURNING (the dedupe upsert) needs SQLite 3.35.
        fast = path not in (None, "", ":memory:") and sqlite3.sqlite_version_info >= (3, 35)
        self._raw = _SqliteWriter(str(path)) if fast else None

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
        return _SqliteLogReader(self, event_log)

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self._write_turn, self._db.write() as conn:
            yield conn

    # -- routing ---------------------------------------------------------------

    async def watermark(self) -> int:
        """The id of the last event log row routed (0 before the first)."""
        async with self._db.read() as conn:
            value = await conn.scalar(
                sa.select(event_routing.c.after_id).where(event_routing.c.name == _ROUTER)
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
            async with self._write_turn:
                counted, inserted, first = await self._raw.run(
                    self._raw.route, through_id, rows, counts, self._clock(), window
                )
            return counted, [_created(first + i, r) for i, r in enumerate(inserted)]
        now = self._clock()
        added: Counter[tuple[int, str]] = Counter(counts)
        created: list[Delivery] = []
        async with self._write() as conn:
            seen = await self._seen(conn, rows, now - window)
            kept: list[NewDelivery] = []
            for row in rows:
                key = (row.pipeline_id, row.message_id)
                if key in seen:
                    added[(row.pipeline_id, "duplicate")] += 1
                    continue
                seen.add(key)
                kept.append(row)
                added[(row.pipeline_id, "invalid" if row.error else "mapped")] += 1
                if row.error:
                    added[(row.pipeline_id, "dead")] += 1
            if kept:
                # Pending rows leave the failure columns out (NULL): fewer
                # parameters per row on the hottest insert.
                pending = [_pending_row(r, now) for r in kept if not r.error]
                dead = [_new_row(r, now) for r in kept if r.error]
                if pending:
                    before = await conn.scalar(sa.select(sa.func.max(event_deliveries.c.id)))
                    await conn.execute(event_deliveries.insert(), pending)
                    created = await self._created(conn, kept, int(before or 0), now)
                if dead:
                    await conn.execute(event_deliveries.insert(), dead)
                insert = self._db.insert(event_dedupe)
                upsert = insert.on_conflict_do_update(
                    index_elements=["pipeline_id", "message_id"],
                    set_={"seen_at": insert.excluded.seen_at},
                )
                # executemany: one compiled statement, not one bind parameter
                # per value of a multi-row VALUES clause.
                await conn.execute(
                    upsert,
                    [
                        {"pipeline_id": r.pipeline_id, "message_id": r.message_id, "seen_at": now}
                        for r in kept
                    ],
                )
            await self._add_counts(conn, added)
            await self._set_watermark(conn, through_id, now)
        return added, created

    async def _created(
        self, conn: AsyncConnection, kept: Sequence[NewDelivery], before: int, now: datetime
    ) -> list[Delivery]:
        """The pending rows just inserted, matched to their ids by (pipeline, messageId).

        The pair is unique among the rows of one routing (dedupe); rows of other
        writers that committed meanwhile are not in ``kept`` and are left out.
        """
        by_key = {(r.pipeline_id, r.message_id): r for r in kept if not r.error}
        query = (
            sa.select(
                event_deliveries.c.id, event_deliveries.c.pipeline_id, event_deliveries.c.message_id
            )
            .where(event_deliveries.c.id > before, event_deliveries.c.state == "pending")
            .order_by(event_deliveries.c.id)
        )
        created: list[Delivery] = []
        for row_id, pipeline_id, message_id in await conn.execute(query):
            new = by_key.pop((pipeline_id, message_id), None)
            if new is None:
                continue
            created.append(
                Delivery(
                    id=row_id,
                    pipeline_id=new.pipeline_id,
                    connection_id=new.connection_id,
                    event_id=new.event_id,
                    message_id=new.message_id,
                    user_key=new.user_key,
                    attempts=0,
                    first_attempt_at=None,
                    next_attempt_at=None,
                    values=new.values,
                    payload=new.payload,
                    received_at=new.received_at,
                    message=new.message,
                )
            )
        return created

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

    async def _seen(
        self, conn: AsyncConnection, rows: Sequence[NewDelivery], since: datetime
    ) -> set[tuple[int, str]]:
        by_pipeline: dict[int, set[str]] = {}
        for row in rows:
            by_pipeline.setdefault(row.pipeline_id, set()).add(row.message_id)
        seen: set[tuple[int, str]] = set()
        for pipeline_id, ids in by_pipeline.items():
            for part in chunks(sorted(ids)):
                result = await conn.execute(
                    sa.select(event_dedupe.c.message_id).where(
                        event_dedupe.c.pipeline_id == pipeline_id,
                        event_dedupe.c.message_id.in_(part),
                        event_dedupe.c.seen_at >= since,
                    )
                )
                seen.update((pipeline_id, mid) for (mid,) in result)
        return seen

    async def _set_watermark(self, conn: AsyncConnection, through_id: int, now: datetime) -> None:
        insert = self._db.insert(event_routing).values(
            name=_ROUTER, after_id=through_id, updated_at=now
        )
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=["name"],
                set_={"after_id": insert.excluded.after_id, "updated_at": now},
            )
        )

    async def _add_counts(self, conn: AsyncConnection, counts: Counter[tuple[int, str]]) -> None:
        values = [
            {"pipeline_id": pipeline_id, "step": step, "count": n}
            for (pipeline_id, step), n in sorted(counts.items())
            if n
        ]
        if not values:
            return
        insert = self._db.insert(event_counters).values(values)
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=["pipeline_id", "step"],
                set_={"count": event_counters.c.count + insert.excluded.count},
            )
        )

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
                _SqliteWriter.pending, connection_id, after_id, limit
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
            return [_delivery(row) for row in await conn.execute(query)]

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
                found.extend(_delivery(row) for row in await conn.execute(query))
        return sorted(found, key=lambda d: d.id)

    async def settle(self, settlement: Settlement) -> None:
        """Record one batch's outcome in one transaction.

        Delivered rows are deleted; each update sets its row's attempts, times,
        error and request, and makes it ``dead`` when ``dead`` is set; the
        counts are added.
        """
        if self._raw is not None:
            async with self._write_turn:
                await self._raw.run(self._raw.settle, settlement, self._clock())
            return
        now = self._clock()
        async with self._write() as conn:
            for part in chunks(settlement.delivered):
                await conn.execute(event_deliveries.delete().where(event_deliveries.c.id.in_(part)))
            if settlement.updates:
                statement = (
                    event_deliveries.update()
                    .where(event_deliveries.c.id == sa.bindparam("row_id"))
                    .values(
                        attempts=sa.bindparam("attempts"),
                        first_attempt_at=sa.bindparam("first"),
                        next_attempt_at=sa.bindparam("next"),
                        error=sa.bindparam("error"),
                        request=sa.bindparam("request"),
                        state=sa.bindparam("state"),
                        dead_at=sa.bindparam("dead_at"),
                    )
                )
                await conn.execute(
                    statement,
                    [
                        {
                            "row_id": u.id,
                            "attempts": u.attempts,
                            "first": u.first_attempt_at,
                            "next": None if u.dead else u.next_attempt_at,
                            "error": u.error,
                            "request": u.request,
                            "state": "dead" if u.dead else "pending",
                            "dead_at": now if u.dead else None,
                        }
                        for u in settlement.updates
                    ],
                )
            await self._add_counts(conn, settlement.counts)

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
            return [_dead(row) for row in await conn.execute(query)]

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
                await conn.execute(event_deliveries.insert().values(_new_row(row, now)))
                counts[(row.pipeline_id, "replayed")] += 1
                if row.error:
                    counts[(row.pipeline_id, "dead")] += 1
                done += 1
            await self._add_counts(conn, counts)
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


def _new_row(row: NewDelivery, now: datetime) -> dict[str, Any]:
    return {
        "pipeline_id": row.pipeline_id,
        "connection_id": row.connection_id,
        "event_id": row.event_id,
        "message_id": row.message_id,
        "user_key": row.user_key,
        "state": "dead" if row.error else "pending",
        "attempts": 0,
        "first_attempt_at": None,
        "next_attempt_at": None,
        "values": row.values,
        "payload": row.payload,
        "error": row.error,
        "request": None,
        "received_at": row.received_at,
        "created_at": now,
        "dead_at": now if row.error else None,
    }


def _pending_row(row: NewDelivery, now: datetime) -> dict[str, Any]:
    return {
        "pipeline_id": row.pipeline_id,
        "connection_id": row.connection_id,
        "event_id": row.event_id,
        "message_id": row.message_id,
        "user_key": row.user_key,
        "state": "pending",
        "attempts": 0,
        "values": row.values,
        "payload": row.payload,
        "received_at": row.received_at,
        "created_at": now,
    }


# -- the SQLite writer -------------------------------------------------------------

# Rows written between two background checkpoints of the WAL.
_CHECKPOINT_ROWS = 20_000


def _chunks_of(
    conn: sqlite3.Connection, rows: Sequence[Any], per_row: int
) -> Iterator[Sequence[Any]]:
    """``rows`` in chunks that fit one statement of ``per_row`` parameters each (plus one).

    Why multi-row statements and not ``executemany``: the sqlite3 module
    releases and retakes the GIL around every statement step, and each retake
    can wait for the event loop's thread (measured: 2,000 rows took 4x longer
    while the loop was busy); one statement per chunk is one step.
    """
    limit = min(conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 32_766) - 1
    size = max(1, limit // per_row)
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _created(row_id: int, row: NewDelivery) -> Delivery:
    # Positional: one of these is built per routed event.
    return Delivery(
        row_id,
        row.pipeline_id,
        row.connection_id,
        row.event_id,
        row.message_id,
        row.user_key,
        0,
        None,
        None,
        row.values,
        row.payload,
        row.received_at,
        row.message,
    )


def _sqlite_time(value: datetime | None) -> str | None:
    """``value`` as SQLAlchemy stores a ``UTCDateTime`` on SQLite (naive UTC text)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("the store needs timezone-aware datetimes (got a naive one)")
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d} "
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}"
    )


def _sqlite_json(value: Any) -> str:
    """``value`` as SQLAlchemy's ``JSON`` stores it (None is the JSON ``null``)."""
    return orjson.dumps(value).decode()


class _SqliteWriter:
    """Writes :meth:`Deliveries.route` and :meth:`Deliveries.settle` on a SQLite file.

    Two connections of its own (the store's pragmas: WAL, ``synchronous=FULL``,
    foreign keys, busy timeout), each used from a thread of its own: one for
    writes, in ``BEGIN IMMEDIATE`` transactions like every store write, and one
    for reads, so that a write waiting for another process's lock never holds
    up a read (WAL readers do not wait for writers). The WAL is checkpointed by
    a third thread (PASSIVE, every :data:`_CHECKPOINT_ROWS` rows written)
    instead of inside a commit that a sender waits for. Errors are raised as
    the SQLAlchemy exceptions the rest of the store raises.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncline-deliveries")
        self._reader = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="syncline-deliveries-read"
        )
        self._checkpointer = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="syncline-deliveries-checkpoint"
        )
        # In boxes that the finalizer can close without keeping the writer alive.
        self._box: list[sqlite3.Connection] = []
        self._read_box: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._since_checkpoint = 0
        self._checkpointing = False
        weakref.finalize(
            self,
            _release,
            (self._executor, self._reader, self._checkpointer),
            (self._box, self._read_box),
        )

    async def run(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run ``work(conn, *args)`` in one write transaction; it returns (result, rows written)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, work, args)

    async def read(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run ``work(conn, *args)`` on the read connection (each query reads one snapshot)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._plain, work, args)

    def close(self) -> None:
        for lock, box in ((self._lock, self._box), (self._read_lock, self._read_box)):
            with lock:
                while box:
                    box.pop().close()

    def _conn(self, box: list[sqlite3.Connection]) -> sqlite3.Connection:
        if not box:
            box.append(self._connect())
        return box[0]

    def _plain(self, work: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        with self._read_lock:
            try:
                return work(self._conn(self._read_box), *args)
            except sqlite3.Error as error:
                raise sa.exc.OperationalError("event delivery read", None, error) from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        for pragma in (
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
            # Dedupe keys go to random places of their index: a larger cache
            # writes each page fewer times (the read connection uses it too).
            "PRAGMA cache_size=-65536",
            "PRAGMA wal_autocheckpoint=0",
        ):
            conn.execute(pragma)
        return conn

    def _transaction(self, work: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        with self._lock:
            conn = self._conn(self._box)
            try:
                conn.execute("BEGIN IMMEDIATE")
                result, written = work(conn, *args)
                conn.execute("COMMIT")
            except BaseException as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(error, sqlite3.IntegrityError):
                    raise sa.exc.IntegrityError("event delivery write", None, error) from None
                if isinstance(error, sqlite3.Error):
                    raise sa.exc.OperationalError("event delivery write", None, error) from None
                raise
            self._since_checkpoint += written
            if self._since_checkpoint >= _CHECKPOINT_ROWS and not self._checkpointing:
                self._since_checkpoint = 0
                self._checkpointing = True
                self._checkpointer.submit(self._checkpoint)
        return result

    def _checkpoint(self) -> None:
        try:
            with closing(sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_MS / 1000)) as conn:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass  # the next one retries; the WAL only grows meanwhile
        finally:
            self._checkpointing = False

    # -- the transactions (run in the writer's thread) ----------------------------

    def route(
        self,
        conn: sqlite3.Connection,
        through_id: int,
        rows: Sequence[NewDelivery],
        counts: Counter[tuple[int, str]],
        now: datetime,
        window: timedelta,
    ) -> tuple[tuple[Counter[tuple[int, str]], list[NewDelivery], int], int]:
        """Returns the counts added, the pending rows inserted and the id of the first one."""
        stamp = _sqlite_time(now)
        # The dedupe keys first, one statement per chunk: a key is new, or was
        # last seen before the window (then it is refreshed), or is a
        # duplicate (the update's WHERE fails and nothing is returned).
        fresh: set[tuple[int, str]] = set()
        for part in _chunks_of(conn, rows, 3):
            returned = conn.execute(
                "INSERT INTO event_dedupe (pipeline_id, message_id, seen_at) VALUES "
                + ", ".join(["(?, ?, ?)"] * len(part))
                + " ON CONFLICT (pipeline_id, message_id) DO UPDATE SET seen_at = excluded.seen_at"
                " WHERE event_dedupe.seen_at < ? RETURNING pipeline_id, message_id",
                [v for r in part for v in (r.pipeline_id, r.message_id, stamp)]
                + [_sqlite_time(now - window)],
            ).fetchall()
            fresh.update(returned)
        added: Counter[tuple[int, str]] = Counter(counts)
        pending: list[NewDelivery] = []
        dead: list[NewDelivery] = []
        for row in rows:
            key = (row.pipeline_id, row.message_id)
            if key not in fresh:
                added[(row.pipeline_id, "duplicate")] += 1
                continue
            fresh.discard(key)  # a second copy in these rows is a duplicate
            if row.error:
                dead.append(row)
                added[(row.pipeline_id, "invalid")] += 1
                added[(row.pipeline_id, "dead")] += 1
            else:
                pending.append(row)
                added[(row.pipeline_id, "mapped")] += 1
        first = 0
        if pending:
            for part in _chunks_of(conn, pending, 9):
                conn.execute(
                    "INSERT INTO event_deliveries (pipeline_id, connection_id, event_id,"
                    ' message_id, user_key, state, attempts, "values", payload, received_at,'
                    " created_at) VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)"] * len(part)),
                    [
                        v
                        for r in part
                        for v in (
                            r.pipeline_id,
                            r.connection_id,
                            r.event_id,
                            r.message_id,
                            r.user_key,
                            _sqlite_json(r.values),
                            r.payload,
                            _sqlite_time(r.received_at),
                            stamp,
                        )
                    ],
                )
            # AUTOINCREMENT and the write lock held: the rows of this
            # transaction got consecutive ids ending at the last one inserted.
            (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
            first = int(last) - len(pending) + 1
        for part in _chunks_of(conn, dead, 11):
            conn.execute(
                "INSERT INTO event_deliveries (pipeline_id, connection_id, event_id, message_id,"
                ' user_key, state, attempts, "values", payload, error, received_at,'
                " created_at, dead_at) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, 'dead', 0, ?, ?, ?, ?, ?, ?)"] * len(part)),
                [
                    v
                    for r in part
                    for v in (
                        r.pipeline_id,
                        r.connection_id,
                        r.event_id,
                        r.message_id,
                        r.user_key,
                        _sqlite_json(r.values),
                        r.payload,
                        r.error,
                        _sqlite_time(r.received_at),
                        stamp,
                        stamp,
                    )
                ],
            )
        self._add_counts(conn, added)
        conn.execute(
            "INSERT INTO event_routing (name, after_id, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET after_id = excluded.after_id,"
            " updated_at = excluded.updated_at",
            (_ROUTER, through_id, stamp),
        )
        return (added, pending, first), len(rows) + len(pending) + len(dead)

    def settle(
        self, conn: sqlite3.Connection, settlement: Settlement, now: datetime
    ) -> tuple[None, int]:
        stamp = _sqlite_time(now)
        for part in _chunks_of(conn, settlement.delivered, 1):
            marks = ", ".join("?" * len(part))
            conn.execute(f"DELETE FROM event_deliveries WHERE id IN ({marks})", part)
        if settlement.updates:
            conn.executemany(
                "UPDATE event_deliveries SET attempts = ?, first_attempt_at = ?,"
                " next_attempt_at = ?, error = ?, request = ?, state = ?, dead_at = ?"
                " WHERE id = ?",
                [
                    (
                        u.attempts,
                        _sqlite_time(u.first_attempt_at),
                        None if u.dead else _sqlite_time(u.next_attempt_at),
                        u.error,
                        u.request,
                        "dead" if u.dead else "pending",
                        stamp if u.dead else None,
                        u.id,
                    )
                    for u in settlement.updates
                ],
            )
        self._add_counts(conn, settlement.counts)
        return None, len(settlement.delivered) + len(settlement.updates)

    @staticmethod
    def pending(
        conn: sqlite3.Connection, connection_id: int, after_id: int, limit: int
    ) -> list[Delivery]:
        found = conn.execute(
            "SELECT id, pipeline_id, connection_id, event_id, message_id, user_key, attempts,"
            ' first_attempt_at, next_attempt_at, "values", payload, received_at'
            " FROM event_deliveries WHERE connection_id = ? AND state = 'pending' AND id > ?"
            " ORDER BY id LIMIT ?",
            (connection_id, after_id, limit),
        )
        return [
            Delivery(
                id=row[0],
                pipeline_id=row[1],
                connection_id=row[2],
                event_id=row[3],
                message_id=row[4],
                user_key=row[5],
                attempts=row[6],
                first_attempt_at=_read_time(row[7]),
                next_attempt_at=_read_time(row[8]),
                values=None if row[9] is None else orjson.loads(row[9]),
                payload=bytes(row[10]),
                received_at=_read_time(row[11]),
            )
            for row in found
        ]

    @staticmethod
    def read_log(conn: sqlite3.Connection, after_id: int, limit: int) -> list[LoggedEvent]:
        found = conn.execute(
            "SELECT id, source_id, message_id, anonymous_id, user_id, type, received_at, payload"
            " FROM event_log WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        # Rows of one commit share their receipt time: parse each distinct one once.
        times: dict[str, datetime] = {}
        events = []
        for row in found:
            received = times.get(row[6])
            if received is None:
                received = times[row[6]] = datetime.fromisoformat(row[6]).replace(tzinfo=UTC)
            events.append(
                LoggedEvent(
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    row[4],
                    row[5],
                    received,
                    bytes(row[7]),
                )
            )
        return events

    @staticmethod
    def delete_log(conn: sqlite3.Connection, through_id: int) -> tuple[int, int]:
        deleted = conn.execute("DELETE FROM event_log WHERE id <= ?", (through_id,)).rowcount
        return deleted, deleted

    @staticmethod
    def _add_counts(conn: sqlite3.Connection, counts: Counter[tuple[int, str]]) -> None:
        values = [(pid, step, n) for (pid, step), n in sorted(counts.items()) if n]
        if values:
            conn.executemany(
                "INSERT INTO event_counters (pipeline_id, step, count) VALUES (?, ?, ?)"
                " ON CONFLICT (pipeline_id, step) DO UPDATE SET count = event_counters.count + excluded.count",
                values,
            )


def _release(
    executors: Sequence[ThreadPoolExecutor], boxes: Sequence[list[sqlite3.Connection]]
) -> None:
    for executor in executors:
        executor.shutdown(wait=False)
    for box in boxes:
        while box:
            box.pop().close()


def _read_time(value: str | None) -> datetime | None:
    """A ``UTCDateTime`` column read on SQLite: timezone-aware UTC."""
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


class _SqliteLogReader:
    """The event log read and pruned through the delivery writer's connection."""

    def __init__(self, deliveries: Deliveries, event_log: EventLog) -> None:
        assert deliveries._raw is not None
        self._raw = deliveries._raw
        self._turn = deliveries._write_turn
        self._event_log = event_log

    async def read_after(self, after_id: int, limit: int) -> list[LoggedEvent]:
        if limit <= 0:
            return []
        events: list[LoggedEvent] = await self._raw.read(_SqliteWriter.read_log, after_id, limit)
        return events

    async def delete_through(self, event_id: int) -> int:
        async with self._turn:
            deleted: int = await self._raw.run(_SqliteWriter.delete_log, event_id)
        return deleted

    async def max_id(self) -> int:
        return await self._event_log.max_id()
