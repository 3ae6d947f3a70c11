"""The event log: every event the collector accepted, durable and in acceptance order.

The collector appends; event delivery reads forward from a position it keeps and
prunes what every sender has finished with. The contract both sides rely on:

* **Order.** ``id`` is the global order of acceptance. Ids only grow: they are
  never reused, even after the log is pruned to empty (SQLite ``AUTOINCREMENT``,
  a PostgreSQL sequence), and they become visible in increasing order — a reader
  that has seen id ``N`` will never later find a new row with an id below ``N``.
  On SQLite writers are serialized by the database lock; on PostgreSQL, where
  concurrent transactions could commit sequence values out of order, every
  append takes a transaction-level advisory lock first, so appends from several
  processes commit one after the other. Ids may have gaps (a rolled-back
  append on PostgreSQL burns its sequence values).
* **Durability.** When :meth:`EventLog.append` (or :meth:`append_rows`) returns,
  the transaction is committed and the backend has flushed it to disk (SQLite:
  WAL with ``synchronous=FULL``; PostgreSQL: ``synchronous_commit`` on, its
  default). An append is all or nothing.
* **Duplicates** are not removed here: a client that retries after a lost
  answer appends the same ``messageId`` again; delivery dedupes within its
  window in a table of its own. The log is indexed by ``source_id`` only
  (migration 0004): an index of random message ids cost about half of every
  append.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa

from syncline.store.database import Database, chunks
from syncline.store.raw_sqlite import (
    WalCheckpointer,
    begin_immediate,
    connect,
    release,
    store_error,
)
from syncline.store.schema import event_log

__all__ = ["EventLog", "LogRow", "LoggedEvent"]

# Any constant works; it only has to be the same in every Syncline process.
_APPEND_LOCK_ID = 0x5359_4E45

# Appended rows between two background checkpoints of the SQLite WAL.
_CHECKPOINT_ROWS = 20_000

# Rows per multi-row INSERT on SQLite: 7 parameters each, 896 in all, below the
# 999 that SQLite builds before 3.32 allow.
_STATEMENT_ROWS = 128
_COLUMNS = 7


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event as stored: the columns and the normalized message (orjson bytes).

    ``received_at`` is timezone-aware UTC. ``payload`` decodes (``orjson.loads``)
    to the message the collector normalized: ``messageId``, ``type``,
    ``receivedAt``, ``timestamp`` are always there, with at least one of
    ``userId``/``anonymousId``; :meth:`syncline.sdk.received.ReceivedEvent.from_message`
    accepts it.
    """

    id: int
    source_id: int
    message_id: str
    anonymous_id: str | None
    user_id: str | None
    type: str
    received_at: datetime
    payload: bytes


class LogRow(NamedTuple):
    """One event ready to append: the indexed columns and the encoded message.

    The collector builds these while it handles a request, so that the group
    commit only writes. ``received_at`` must be timezone-aware. A named tuple,
    not a dataclass: one is built per event (about 0.3 µs against 0.8 µs), and
    its fields are the insert's parameters in column order, so the SQLite
    appender flattens rows without reading them field by field.
    """

    source_id: int
    message_id: str
    anonymous_id: str | None
    user_id: str | None
    type: str
    received_at: datetime
    payload: bytes


def _identifier(message: Mapping[str, Any], key: str) -> str | None:
    value = message.get(key)
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"event field {key!r} must be a string or an integer")


def row_from_message(source_id: int, message: Mapping[str, Any]) -> LogRow:
    """A :class:`LogRow` for a normalized message.

    ``ValueError`` when the message has no string ``messageId`` or ``type``,
    no ISO 8601 ``receivedAt`` with a zone offset, or neither ``userId`` nor
    ``anonymousId``.
    """
    message_id = message.get("messageId")
    kind = message.get("type")
    if not isinstance(message_id, str) or not message_id:
        raise ValueError("an event needs a non-empty string 'messageId' before it is logged")
    if not isinstance(kind, str) or not kind:
        raise ValueError("an event needs a string 'type' before it is logged")
    received = message.get("receivedAt")
    try:
        received_at = datetime.fromisoformat(received)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("an event needs an ISO 8601 'receivedAt' before it is logged") from None
    if received_at.tzinfo is None:
        raise ValueError("an event's 'receivedAt' must carry a zone offset")
    anonymous_id = _identifier(message, "anonymousId")
    user_id = _identifier(message, "userId")
    if anonymous_id is None and user_id is None:
        raise ValueError("an event needs a 'userId' or an 'anonymousId' before it is logged")
    return LogRow(
        source_id=source_id,
        message_id=message_id,
        anonymous_id=anonymous_id,
        user_id=user_id,
        type=kind,
        received_at=received_at.astimezone(UTC),
        payload=orjson.dumps(message),
    )


class _SqliteAppender:
    """Appends on a SQLite file through a connection of its own, in a thread of its own.

    Why: appending is the collector's hot path, and going through SQLAlchemy and
    aiosqlite costs several times what SQLite itself needs per row (measured:
    about 75 µs per event with ``RETURNING``, 19 µs with a driver-level
    ``executemany``, 9 µs with a plain ``executemany`` here; with multi-row
    statements and no message-id index, about 5 µs of CPU per event in this
    thread, most of it inside SQLite with the GIL released, under
    ``bench/collect.py``). The connection has the store's pragmas (WAL,
    ``synchronous=FULL``, foreign keys, busy timeout) and writes in ``BEGIN
    IMMEDIATE`` transactions like every store write. Ids come from
    ``sqlite_sequence``: with ``AUTOINCREMENT`` and the write lock held, the rows
    of one transaction get consecutive ids ending at the sequence value.
    """

    _INSERT = (
        "INSERT INTO event_log (source_id, message_id, anonymous_id, user_id, type, "
        "received_at, payload) VALUES "
    )
    _ROW = "(?, ?, ?, ?, ?, ?, ?)"

    def __init__(self, path: str, db: Database) -> None:
        self._path = path
        self._time = event_log.c.received_at.type.bind_processor(db.engine.dialect)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncline-log")
        self._checkpoints = WalCheckpointer(path, _CHECKPOINT_ROWS, "syncline-log-checkpoint")
        self._statements: dict[int, str] = {}
        # In a box that the finalizer can close without keeping the appender alive.
        self._box: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        weakref.finalize(self, release, (self._executor,), (self._box,))

    def _connect(self) -> sqlite3.Connection:
        # One prepared statement per chunk size (1 to _STATEMENT_ROWS) plus a few.
        return connect(self._path, cached_statements=_STATEMENT_ROWS + 16)

    def _statement(self, rows: int) -> str:
        statement = self._statements.get(rows)
        if statement is None:
            statement = self._INSERT + ", ".join([self._ROW] * rows)
            self._statements[rows] = statement
        return statement

    def _parameters(self, rows: Sequence[LogRow]) -> list[Any]:
        """The rows' fields in one flat list, ``received_at`` in its stored form."""
        flat = list(chain.from_iterable(rows))
        convert = self._time
        if convert is not None:
            # One conversion per distinct time (a request's rows share one).
            times = flat[5::_COLUMNS]
            stored = {at: convert(at) for at in dict.fromkeys(times)}
            flat[5::_COLUMNS] = [stored[at] for at in times]
        return flat

    def _write(self, rows: Sequence[LogRow]) -> list[int]:
        with self._lock:
            if not self._box:
                self._box.append(self._connect())
            conn = self._box[0]
            flat = self._parameters(rows)
            step = _STATEMENT_ROWS * _COLUMNS
            begin_immediate(conn)
            try:
                # Multi-row statements: the sqlite3 module releases and retakes
                # the GIL around every statement step, and each retake can wait
                # for the event loop's thread; one step per chunk, not per row.
                for start in range(0, len(flat), step):
                    part = flat[start : start + step]
                    conn.execute(self._statement(len(part) // _COLUMNS), part)
                (last,) = conn.execute(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'event_log'"
                ).fetchone()
                conn.execute("COMMIT")
            except BaseException as error:
                conn.execute("ROLLBACK")
                failure = store_error(error, self._INSERT)
                if failure is error:
                    raise
                raise failure from None
            self._checkpoints.written(len(rows))
        first = int(last) - len(rows) + 1
        return list(range(first, first + len(rows)))

    async def append(self, rows: Sequence[LogRow]) -> list[int]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._write, rows)

    def close(self) -> None:
        with self._lock:
            while self._box:
                self._box.pop().close()


class EventLog:
    """Append, read forward, count and prune the event log (see the module docs)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        path = db.url.database if db.is_sqlite else None
        # An in-memory database is private to its connection: use the engine's.
        self._appender = _SqliteAppender(path, db) if path not in (None, "", ":memory:") else None

    def close(self) -> None:
        """Close the appending connection (SQLite); the log opens it again on use."""
        if self._appender is not None:
            self._appender.close()

    async def append(self, source_id: int, messages: Sequence[Mapping[str, Any]]) -> list[int]:
        """Append normalized messages of one source; return their ids, in order.

        Durable when it returns (see the module docs); all or nothing. Each
        message needs ``messageId``, ``type``, ``receivedAt`` and a ``userId`` or
        ``anonymousId`` (``ValueError`` otherwise, before anything is written).
        An empty sequence writes nothing and returns ``[]``. The source must
        exist (``sqlalchemy.exc.IntegrityError`` otherwise).
        """
        return await self.append_rows([row_from_message(source_id, m) for m in messages])

    async def append_rows(self, rows: Sequence[LogRow]) -> list[int]:
        """Append prepared rows in one transaction; return their ids, in order.

        The group commit's entry point: rows of many requests and sources go in
        one durable transaction. Same guarantees as :meth:`append`.
        """
        if not rows:
            return []
        if self._appender is not None:
            return await self._appender.append(rows)
        ids: list[int] = []
        async with self._db.write() as conn:
            if not self._db.is_sqlite:
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _APPEND_LOCK_ID}
                )
            for part in chunks(rows):
                result = await conn.execute(
                    event_log.insert().returning(event_log.c.id, sort_by_parameter_order=True),
                    [_values(row) for row in part],
                )
                ids.extend(int(r[0]) for r in result)
        return ids

    async def read_after(self, after_id: int, limit: int) -> list[LoggedEvent]:
        """Up to ``limit`` events with an id above ``after_id``, oldest first."""
        if limit <= 0:
            return []
        async with self._db.read() as conn:
            result = await conn.execute(
                sa.select(event_log)
                .where(event_log.c.id > after_id)
                .order_by(event_log.c.id)
                .limit(limit)
            )
            return [_logged(row) for row in result]

    async def max_id(self) -> int:
        """The id of the newest event in the log; 0 when the log is empty."""
        async with self._db.read() as conn:
            value = await conn.scalar(sa.select(sa.func.max(event_log.c.id)))
        return int(value or 0)

    async def min_id(self) -> int:
        """The id of the oldest event in the log; 0 when the log is empty."""
        async with self._db.read() as conn:
            value = await conn.scalar(sa.select(sa.func.min(event_log.c.id)))
        return int(value or 0)

    async def delete_through(self, event_id: int) -> int:
        """Delete every event with an id up to and including ``event_id``; return how many."""
        async with self._db.write() as conn:
            result = await conn.execute(event_log.delete().where(event_log.c.id <= event_id))
        return int(result.rowcount)

    async def delete_source(self, source_id: int) -> int:
        """Delete every event of one source (before removing the source); return how many."""
        async with self._db.write() as conn:
            result = await conn.execute(
                event_log.delete().where(event_log.c.source_id == source_id)
            )
        return int(result.rowcount)

    async def count(self, source_id: int | None = None) -> int:
        """How many events the log holds (of one source when ``source_id`` is given).

        Exact, and so linear in the log's size; the collector's backlog check
        uses :meth:`min_id`/:meth:`max_id` instead and counts only near its bound.
        """
        query = sa.select(sa.func.count()).select_from(event_log)
        if source_id is not None:
            query = query.where(event_log.c.source_id == source_id)
        async with self._db.read() as conn:
            value = await conn.scalar(query)
        return int(value or 0)


def _values(row: LogRow) -> dict[str, Any]:
    return {
        "source_id": row.source_id,
        "message_id": row.message_id,
        "anonymous_id": row.anonymous_id,
        "user_id": row.user_id,
        "type": row.type,
        "received_at": row.received_at,
        "payload": row.payload,
    }


def _logged(row: sa.Row[Any]) -> LoggedEvent:
    return LoggedEvent(
        id=row.id,
        source_id=row.source_id,
        message_id=row.message_id,
        anonymous_id=row.anonymous_id,
        user_id=row.user_id,
        type=row.type,
        received_at=row.received_at,
        payload=bytes(row.payload),
    )
