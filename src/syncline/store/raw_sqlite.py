"""What the store's raw ``sqlite3`` paths share: connections, WAL checkpoints, errors.

Three hot paths bypass SQLAlchemy on a SQLite file — the collector's
event-log appender (:mod:`syncline.store.event_log`), the delivery engine's
writes (:mod:`syncline.store.delivery_writer`) and the checkpoint after each
batch of an import or export run (:mod:`syncline.store.runs_sqlite`) — each
with connections and threads of its own. Their connections must behave like
every store connection (WAL, ``synchronous=FULL``, foreign keys, the busy
timeout), their WAL is copied into the database file by a background thread
instead of inside a commit a client waits for, their errors reach callers as
the SQLAlchemy exceptions the rest of the store raises, and they write the
column formats SQLAlchemy writes (:func:`sqlite_time`, :func:`sqlite_json`),
so each path reads what the other wrote.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from syncline.store.database import BUSY_TIMEOUT_MS, Database

__all__ = [
    "WAL_LIMIT_FRAMES",
    "SqliteWriter",
    "WalCheckpointer",
    "begin_immediate",
    "connect",
    "read_time",
    "release",
    "sqlite_file",
    "sqlite_json",
    "sqlite_time",
    "store_error",
]

log = logging.getLogger("syncline.store")

WAL_LIMIT_FRAMES = 8192
"""Frames (pages) past which a checkpoint truncates the WAL: 32 MiB at SQLite's 4 KiB pages."""


def sqlite_file(db: Database) -> str | None:
    """The SQLite file of ``db`` when a raw path can serve it, else None.

    None on another database, and on an in-memory SQLite database, which is
    private to the connection that created it: the engine's must be used.
    """
    path = db.url.database if db.is_sqlite else None
    return None if path in (None, "", ":memory:") else str(path)


def connect(
    path: str, *, pragmas: Sequence[str] = (), cached_statements: int = 128
) -> sqlite3.Connection:
    """A connection to the store's SQLite file with the store's pragmas, plus ``pragmas``.

    Autocommit mode (transactions are begun explicitly), usable from any one
    thread at a time, and no automatic WAL checkpoint: pair it with a
    :class:`WalCheckpointer`.
    """
    conn = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=cached_statements,
    )
    for pragma in (
        "PRAGMA synchronous=FULL",
        "PRAGMA foreign_keys=ON",
        f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        "PRAGMA wal_autocheckpoint=0",
        *pragmas,
    ):
        conn.execute(pragma)
    return conn


def begin_immediate(conn: sqlite3.Connection, timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """``BEGIN IMMEDIATE`` on ``conn``, waiting for another writer in short steps.

    The collector and delivery write the same file, often from two processes,
    and take the write lock many times a second each. SQLite's own busy
    handler sleeps 1, 2, 5, 10, 15, 20, 25 ms… between tries, so a writer
    that found the lock taken for 2 ms waited 3 ms or more, and one that found
    it taken for 60 ms waited 78 (under load, about a quarter of the delivery
    writer's time went to waiting for the lock). Here
    the tries come every 0.2 ms at first, never more than 2 ms apart, for up
    to ``timeout`` seconds (the store's busy timeout); then the last
    ``SQLITE_BUSY`` error is raised. The connection's busy timeout is the
    store's again when this returns.
    """
    conn.execute("PRAGMA busy_timeout=0")
    try:
        delay = 0.0002
        deadline = None
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + timeout
                elif now >= deadline:
                    raise
                time.sleep(delay)
                delay = min(2 * delay, 0.002)
    finally:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


class WalCheckpointer:
    """Copies the WAL into the database file every ``every`` rows, off the writer's thread.

    :meth:`written` is called by the writer after each commit, under its own
    lock; once ``every`` rows were written and no checkpoint is running, a
    PASSIVE checkpoint (it never blocks writers) runs on a connection and a
    thread of its own. A failed checkpoint is logged and left for the next
    one: the WAL only grows meanwhile. The thread ends when the object is garbage-collected.

    PASSIVE checkpoints alone let the WAL file grow without bound under
    sustained writes: SQLite starts writing at the file's beginning again only
    after a checkpoint that copied every frame, and with other processes
    appending frames all the time (the collector and delivery write the same
    file) that never happens. Measured before this bound: 700 MB of WAL after
    12 s of 16,000 events/s, and every page read searching a longer WAL index.
    So once the WAL holds more than ``limit_frames`` frames after a PASSIVE
    pass, a TRUNCATE checkpoint follows: it waits for the writer of the
    moment, copies what is left, waits for readers to leave the WAL and
    truncates the file, so the next writer starts over at its beginning.
    Writers wait while it runs, so it gives up after ``truncate_wait_ms`` (a
    reader holding an old snapshot that long) and is not tried again for a
    while: 1 s after the first failure, doubling after each further one up to
    ``truncate_backoff`` seconds, and back to every checkpoint after a success.
    A reader that keeps its snapshot for long (a backup) then stalls writers at
    most once per backoff, while a busy moment under load delays the
    truncation by a second only.
    """

    def __init__(
        self,
        path: str,
        every: int,
        name: str,
        *,
        limit_frames: int = WAL_LIMIT_FRAMES,
        truncate_wait_ms: int = 200,
        truncate_backoff: float = 10.0,
    ) -> None:
        self._path = path
        self._every = every
        self._limit_frames = limit_frames
        self._truncate_wait_ms = truncate_wait_ms
        self._truncate_backoff = truncate_backoff
        self._truncate_not_before = 0.0
        self._truncate_failures = 0
        self._since = 0
        self._running = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        weakref.finalize(self, self._thread.shutdown, wait=False)

    def written(self, rows: int) -> None:
        self._since += rows
        if self._since >= self._every and not self._running:
            self._since = 0
            self._running = True
            self._thread.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            with closing(sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_MS / 1000)) as conn:
                _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if frames > self._limit_frames and time.monotonic() >= self._truncate_not_before:
                    conn.execute(f"PRAGMA busy_timeout={self._truncate_wait_ms}")
                    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                    if busy:
                        wait = min(self._truncate_backoff, 2.0**self._truncate_failures)
                        self._truncate_failures += 1
                        self._truncate_not_before = time.monotonic() + wait
                    else:
                        self._truncate_failures = 0
        except sqlite3.Error as error:
            # Not the writer's error: its commits are durable in the WAL.
            log.warning(
                "a WAL checkpoint of %s failed (%s); the next one tries again, the WAL"
                " grows meanwhile",
                self._path,
                error,
            )
        finally:
            self._running = False


def store_error(error: BaseException, statement: str) -> BaseException:
    """``error`` as the store raises it: sqlite3's errors become SQLAlchemy's."""
    if isinstance(error, sqlite3.IntegrityError):
        return sa.exc.IntegrityError(statement, None, error)
    if isinstance(error, sqlite3.Error):
        return sa.exc.OperationalError(statement, None, error)
    return error


def release(
    executors: Sequence[ThreadPoolExecutor], boxes: Sequence[list[sqlite3.Connection]]
) -> None:
    """Finalizer: stop ``executors`` and close the connections kept in ``boxes``."""
    for executor in executors:
        executor.shutdown(wait=False)
    for box in boxes:
        while box:
            box.pop().close()


def sqlite_time(value: datetime | None) -> str | None:
    """``value`` as SQLAlchemy stores a ``UTCDateTime`` on SQLite (naive UTC text).

    Raises :class:`ValueError` for a naive ``value``.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("the store needs timezone-aware datetimes (got a naive one)")
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d} "
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}"
    )


def sqlite_json(value: Any) -> str:
    """``value`` as SQLAlchemy's ``JSON`` stores it (None is the JSON ``null``)."""
    return orjson.dumps(value).decode()


def read_time(value: str | None) -> datetime | None:
    """A ``UTCDateTime`` column read on SQLite: timezone-aware UTC."""
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


class SqliteWriter:
    """Runs a raw SQLite path's transactions and reads on a SQLite file.

    Two connections of its own (the store's pragmas: WAL, ``synchronous=FULL``,
    foreign keys, busy timeout; plus ``pragmas``), each used from a thread of
    its own: one for writes, in ``BEGIN IMMEDIATE`` transactions like every
    store write, and one for reads, so that a write waiting for another
    process's lock never holds up a read (WAL readers do not wait for
    writers). The WAL is checkpointed by a :class:`WalCheckpointer` (PASSIVE,
    every ``checkpoint_rows`` rows written) instead of inside a commit that a
    writer waits for. Errors are raised as the SQLAlchemy exceptions the rest
    of the store raises, named after ``what`` (``"<what> write"``); ``name``
    names the threads.
    """

    def __init__(
        self,
        path: str,
        *,
        name: str,
        what: str,
        pragmas: Sequence[str] = (),
        checkpoint_rows: int = 20_000,
    ) -> None:
        self._path = path
        self._what = what
        self._pragmas = tuple(pragmas)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-read")
        self._checkpoints = WalCheckpointer(path, checkpoint_rows, f"{name}-checkpoint")
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
                raise store_error(error, f"{self._what} read") from None

    def _connect(self) -> sqlite3.Connection:
        return connect(self._path, pragmas=self._pragmas)

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
                failure = store_error(error, f"{self._what} write")
                if failure is error:
                    raise
                raise failure from None
            self._checkpoints.written(written)
        return result
