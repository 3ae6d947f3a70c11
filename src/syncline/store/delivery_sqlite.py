"""The SQL of the raw SQLite path, run by :func:`~syncline.store.delivery_writer.delivery_writer`.

Why this path exists: on a SQLite file the two hot writes of
:class:`~syncline.store.deliveries.Deliveries`, ``route`` and ``settle``, spend
several times what SQLite needs per row in SQLAlchemy's per-parameter
processing. The functions here run them (and the fast path's reads) on a plain
``sqlite3`` connection, with multi-row statements, writing the rows SQLAlchemy
would write in the same column formats (``UTCDateTime`` as naive UTC text,
``JSON`` as its text), so each path reads what the other wrote.

Each write runs inside a transaction the writer opened and returns ``(result,
rows written)``: the writer counts rows towards its next WAL checkpoint. Reads
run on the writer's read connection, outside any transaction.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from syncline.store.delivery_rows import ROUTER, Delivery, NewDelivery, Settlement
from syncline.store.event_log import LoggedEvent
from syncline.store.raw_sqlite import read_time, sqlite_json, sqlite_time

__all__ = [
    "RouteStatements",
    "created",
    "delete_log",
    "pending",
    "read_log",
    "route",
    "route_statements",
    "settle",
]


@dataclass(slots=True)
class RouteStatements:
    """The statements of a :func:`route` transaction, built before it begins.

    Building thousands of parameter tuples holds the GIL for milliseconds; done
    inside the transaction, that time (and every wait for the GIL between two
    statements) is time the store's write lock is held, which the collector
    waits for. ``dedupe`` is one (SQL, parameters) per chunk; ``insert`` the
    same for the pending rows in the common case where none of ``rows`` is a
    duplicate nor carries an error (else :func:`route` builds them itself).
    """

    stamp: str
    dedupe: list[tuple[str, list[Any]]]
    insert: list[tuple[str, list[Any]]]


def route_statements(
    rows: Sequence[NewDelivery], now: datetime, window: timedelta
) -> RouteStatements:
    """The statements :func:`route` runs for ``rows`` (see :class:`RouteStatements`)."""
    stamp = sqlite_time(now)
    assert stamp is not None
    cutoff = sqlite_time(now - window)
    dedupe = [
        (
            "INSERT INTO event_dedupe (pipeline_id, message_id, seen_at) VALUES "
            + ", ".join(["(?, ?, ?)"] * len(part))
            + " ON CONFLICT (pipeline_id, message_id) DO UPDATE SET seen_at = excluded.seen_at"
            " WHERE event_dedupe.seen_at < ? RETURNING pipeline_id, message_id",
            [v for r in part for v in (r.pipeline_id, r.message_id, stamp)] + [cutoff],
        )
        for part in _chunks(rows, 3)
    ]
    insert = [] if any(r.error for r in rows) else _pending_inserts(rows, stamp)
    return RouteStatements(stamp, dedupe, insert)


def _pending_inserts(pending: Sequence[NewDelivery], stamp: str) -> list[tuple[str, list[Any]]]:
    # The events of one collector commit share their receipt time (the
    # same object, from read_log): format each distinct one once.
    received: dict[datetime | None, str | None] = {}
    for r in pending:
        if r.received_at not in received:
            received[r.received_at] = sqlite_time(r.received_at)
    return [
        (
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
                    "null" if r.values is None else sqlite_json(r.values),
                    r.payload,
                    received[r.received_at],
                    stamp,
                )
            ],
        )
        for part in _chunks(pending, 9)
    ]


def route(
    conn: sqlite3.Connection,
    through_id: int,
    rows: Sequence[NewDelivery],
    counts: Counter[tuple[int, str]],
    statements: RouteStatements,
) -> tuple[tuple[Counter[tuple[int, str]], list[NewDelivery], int], int]:
    """Returns the counts added, the pending rows inserted and the id of the first one.

    ``statements`` are :func:`route_statements` of the same ``rows``.
    """
    stamp = statements.stamp
    # The dedupe keys first, one statement per chunk: a key is new, or was
    # last seen before the window (then it is refreshed), or is a
    # duplicate (the update's WHERE fails and nothing is returned).
    fresh: set[tuple[int, str]] = set()
    for sql, parameters in statements.dedupe:
        fresh.update(conn.execute(sql, parameters).fetchall())
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
        inserts = (
            statements.insert
            if len(pending) == len(rows) and statements.insert
            else _pending_inserts(pending, stamp)
        )
        for sql, parameters in inserts:
            conn.execute(sql, parameters)
        # AUTOINCREMENT and the write lock held: the rows of this
        # transaction got consecutive ids ending at the last one inserted.
        (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
        first = int(last) - len(pending) + 1
    for part in _chunks(dead, 11):
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
                    sqlite_json(r.values),
                    r.payload,
                    r.error,
                    sqlite_time(r.received_at),
                    stamp,
                    stamp,
                )
            ],
        )
    _add_counts(conn, added)
    conn.execute(
        "INSERT INTO event_routing (name, after_id, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET after_id = excluded.after_id,"
        " updated_at = excluded.updated_at",
        (ROUTER, through_id, stamp),
    )
    return (added, pending, first), len(rows) + len(pending) + len(dead)


def created(row_id: int, row: NewDelivery) -> Delivery:
    """The pending row ``route`` inserted with id ``row_id`` for ``row``, as a sender loads it."""
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


def settle(conn: sqlite3.Connection, settlement: Settlement, now: datetime) -> tuple[None, int]:
    """Deletes the delivered rows, applies the updates and adds the counts."""
    stamp = sqlite_time(now)
    for part in _chunks(settlement.delivered, 1):
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
                    sqlite_time(u.first_attempt_at),
                    None if u.dead else sqlite_time(u.next_attempt_at),
                    u.error,
                    u.request,
                    "dead" if u.dead else "pending",
                    stamp if u.dead else None,
                    u.id,
                )
                for u in settlement.updates
            ],
        )
    _add_counts(conn, settlement.counts)
    return None, len(settlement.delivered) + len(settlement.updates)


def pending(
    conn: sqlite3.Connection, connection_id: int, after_id: int, limit: int
) -> list[Delivery]:
    """Up to ``limit`` pending rows of the connection with id > ``after_id``, in id order."""
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
            first_attempt_at=read_time(row[7]),
            next_attempt_at=read_time(row[8]),
            values=None if row[9] is None else orjson.loads(row[9]),
            payload=bytes(row[10]),
            received_at=read_time(row[11]),
        )
        for row in found
    ]


def read_log(conn: sqlite3.Connection, after_id: int, limit: int) -> list[LoggedEvent]:
    """Up to ``limit`` event log rows with id > ``after_id``, in id order."""
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


def delete_log(conn: sqlite3.Connection, through_id: int) -> tuple[int, int]:
    """Deletes the event log rows with id <= ``through_id``; returns how many (twice)."""
    deleted = conn.execute("DELETE FROM event_log WHERE id <= ?", (through_id,)).rowcount
    return deleted, deleted


def _add_counts(conn: sqlite3.Connection, counts: Counter[tuple[int, str]]) -> None:
    values = [(pid, step, n) for (pid, step), n in sorted(counts.items()) if n]
    if values:
        conn.executemany(
            "INSERT INTO event_counters (pipeline_id, step, count) VALUES (?, ?, ?)"
            " ON CONFLICT (pipeline_id, step) DO UPDATE SET count = event_counters.count + excluded.count",
            values,
        )


def _chunks(rows: Sequence[Any], per_row: int) -> Iterator[Sequence[Any]]:
    """``rows`` in chunks that fit one statement of ``per_row`` parameters each (plus one).

    Why multi-row statements and not ``executemany``: the sqlite3 module
    releases and retakes the GIL around every statement step, and each retake
    can wait for the event loop's thread (measured: 2,000 rows took 4x longer
    while the loop was busy); one statement per chunk is one step.
    """
    size = max(1, (_variable_limit() - 1) // per_row)
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


@functools.cache
def _variable_limit() -> int:
    """Parameters one statement may bind: the SQLite library's own limit (32,766 or less)."""
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        return min(conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 32_766)
