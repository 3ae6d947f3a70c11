"""The raw SQLite path's connections and threads, and the router's log reader on them.

Why the path exists: on a SQLite file the two hot writes of
:class:`~syncline.store.deliveries.Deliveries` (``route`` and ``settle``) cost
several times what SQLite needs per row when they go through SQLAlchemy, and
running them on a thread of their own lets SQLite's work overlap the event
loop's. :class:`SqliteWriter` owns the connections and threads that run the
transactions of :mod:`syncline.store.delivery_sqlite`; :class:`SqliteLogReader`
reads and prunes the event log through it for the router.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from syncline.store import delivery_sqlite
from syncline.store.event_log import EventLog, LoggedEvent
from syncline.store.raw_sqlite import (
    WalCheckpointer,
    begin_immediate,
    connect,
    release,
    store_error,
)

__all__ = ["SqliteLogReader", "SqliteWriter"]

# Rows written between two background checkpoints of the WAL.
_CHECKPOINT_ROWS = 20_000


class SqliteWriter:
    """Runs the raw SQLite path's transactions and reads on a SQLite file.

    Two connections of its own (the store's pragmas: WAL, ``synchronous=FULL``,
    foreign keys, busy timeout), each used from a thread of its own: one for
    writes, in ``BEGIN IMMEDIATE`` transactions like every store write, and one
    for reads, so that a write waiting for another process's lock never holds
    up a read (WAL readers do not wait for writers). The WAL is checkpointed by
    a :class:`~syncline.store.raw_sqlite.WalCheckpointer` (PASSIVE, every
    :data:`_CHECKPOINT_ROWS` rows written)
    instead of inside a commit that a sender waits for. Errors are raised as
    the SQLAlchemy exceptions the rest of the store raises.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncline-deliveries")
        self._reader = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="syncline-deliveries-read"
        )
        self._checkpoints = WalCheckpointer(
            path, _CHECKPOINT_ROWS, "syncline-deliveries-checkpoint"
        )
        # In boxes that the finalizer can close without keeping the writer alive.
        self._box: list[sqlite3.Connection] = []
        self._read_box: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        weakref.finalize(self, release, (self._executor, self._reader), (self._box, self._read_box))

    async def run(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run ``work(conn, *args)`` in one write transaction; it returns (result, rows written)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, work, args)

    async def read(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run ``work(conn, *args)`` on the read connection (each query reads one snapshot)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._plain, work, args)

    def close(self) -> None:
        """Close both connections (each opens again on its next use); the threads stay."""
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
                raise store_error(error, "event delivery read") from None

    def _connect(self) -> sqlite3.Connection:
        # Dedupe keys go to random places of their index: a larger cache writes
        # each page fewer times (the read connection uses it too).
        return connect(self._path, pragmas=("PRAGMA cache_size=-65536",))

    def _transaction(self, work: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        with self._lock:
            conn = self._conn(self._box)
            try:
                begin_immediate(conn)
                result, written = work(conn, *args)
                conn.execute("COMMIT")
            except BaseException as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                failure = store_error(error, "event delivery write")
                if failure is error:
                    raise
                raise failure from None
            self._checkpoints.written(written)
        return result


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
