"""The SQLAlchemy side of the delivery tables: routing and settling on any backend.

:class:`~syncline.store.deliveries.Deliveries` routes and settles through
:func:`route` and :func:`settle` on PostgreSQL and on the SQLite databases its
raw SQLite path cannot serve (in memory, or SQLite older than 3.35). Its
methods that use SQLAlchemy on every backend share the rest: the row
converters (:func:`delivery`, :func:`dead_letter`, :func:`new_row`) and
:func:`add_counts`. The async functions run inside a transaction the caller
holds (``conn``) and commit nothing themselves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from syncline.store.database import Database, chunks
from syncline.store.delivery_rows import ROUTER, DeadLetter, Delivery, NewDelivery, Settlement
from syncline.store.schema import event_counters, event_dedupe, event_deliveries, event_routing

__all__ = ["add_counts", "dead_letter", "delivery", "new_row", "route", "settle"]


async def route(
    db: Database,
    conn: AsyncConnection,
    through_id: int,
    rows: Sequence[NewDelivery],
    counts: Counter[tuple[int, str]],
    now: datetime,
    window: timedelta,
) -> tuple[Counter[tuple[int, str]], list[Delivery]]:
    """:meth:`~syncline.store.deliveries.Deliveries.route` in the transaction ``conn``.

    Returns every count added and the pending rows created, in id order.
    """
    added: Counter[tuple[int, str]] = Counter(counts)
    created: list[Delivery] = []
    seen = await _seen(conn, rows, now - window)
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
        dead = [new_row(r, now) for r in kept if r.error]
        if pending:
            before = await conn.scalar(sa.select(sa.func.max(event_deliveries.c.id)))
            await conn.execute(event_deliveries.insert(), pending)
            created = await _created(conn, kept, int(before or 0), now)
        if dead:
            await conn.execute(event_deliveries.insert(), dead)
        insert = db.insert(event_dedupe)
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
    await add_counts(db, conn, added)
    await _set_watermark(db, conn, through_id, now)
    return added, created


async def _created(
    conn: AsyncConnection, kept: Sequence[NewDelivery], before: int, now: datetime
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


async def _seen(
    conn: AsyncConnection, rows: Sequence[NewDelivery], since: datetime
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


async def _set_watermark(
    db: Database, conn: AsyncConnection, through_id: int, now: datetime
) -> None:
    insert = db.insert(event_routing).values(name=ROUTER, after_id=through_id, updated_at=now)
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=["name"],
            set_={"after_id": insert.excluded.after_id, "updated_at": now},
        )
    )


async def add_counts(db: Database, conn: AsyncConnection, counts: Counter[tuple[int, str]]) -> None:
    """Add ``counts`` (``{(pipeline_id, step): n}``) to the counters; zero counts are skipped."""
    values = [
        {"pipeline_id": pipeline_id, "step": step, "count": n}
        for (pipeline_id, step), n in sorted(counts.items())
        if n
    ]
    if not values:
        return
    insert = db.insert(event_counters).values(values)
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=["pipeline_id", "step"],
            set_={"count": event_counters.c.count + insert.excluded.count},
        )
    )


async def settle(
    db: Database, conn: AsyncConnection, settlement: Settlement, now: datetime
) -> None:
    """:meth:`~syncline.store.deliveries.Deliveries.settle` in the transaction ``conn``."""
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
    await add_counts(db, conn, settlement.counts)


def delivery(row: sa.Row[Any]) -> Delivery:
    """An ``event_deliveries`` row as a :class:`Delivery`."""
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


def dead_letter(row: sa.Row[Any]) -> DeadLetter:
    """An ``event_deliveries`` row joined with its pipeline's ``name`` as a :class:`DeadLetter`."""
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


def new_row(row: NewDelivery, now: datetime) -> dict[str, Any]:
    """Every column of ``row``'s insert: ``pending``, or ``dead`` at ``now`` with its ``error``."""
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
