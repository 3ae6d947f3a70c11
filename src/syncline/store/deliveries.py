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
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from syncline.store.database import Database, chunks
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


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A row to create: an event routed to one pipeline.

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


@dataclass(frozen=True, slots=True)
class Delivery:
    """A pending row, as a sender loads it."""

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


class Deliveries:
    """The delivery engine's tables; see the module docstring."""

    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self._db = db
        self._clock = clock
        # Writers of one process take turns here instead of in SQLite's busy
        # handler, whose sleeps (up to 100 ms each) would stall every sender.
        self._write_turn = asyncio.Lock()

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
