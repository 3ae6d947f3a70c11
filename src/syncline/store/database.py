"""The async engine under the store: URL handling, SQLite pragmas, transactions.

SQLite is opened in WAL mode with ``synchronous=FULL``: every commit fsyncs the
write-ahead log, so a committed checkpoint or queued event survives not only a
killed process but also an operating-system crash or power loss (WAL with
``NORMAL`` would only survive the former). Foreign keys are enforced, and a busy
timeout makes a writer wait for another writer instead of failing at once.

Transactions are short and come in two flavours:

* :meth:`Database.read` — a plain transaction for queries.
* :meth:`Database.write` — on SQLite ``BEGIN IMMEDIATE``, which takes the write
  lock up front. A deferred transaction that reads and then writes can fail with
  "database is locked" without waiting when another connection writes in
  between; taking the lock first makes it wait on the busy timeout instead.
  On PostgreSQL it is a normal transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from syncline.store.errors import StoreError

__all__ = ["Database", "normalize_url"]

BUSY_TIMEOUT_MS = 10_000

# Rows per multi-row statement: below SQLite's and asyncpg's bound-parameter caps.
CHUNK_ROWS = 500

T = TypeVar("T")


def normalize_url(url: str) -> URL:
    """Pick the async driver for plain ``sqlite://`` and ``postgresql://`` URLs.

    ``sqlite+aiosqlite`` and ``postgresql+asyncpg`` URLs pass through; any other
    backend or driver is refused with a message naming the two supported ones.
    """
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"):
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(
        f"unsupported database URL scheme {parsed.drivername!r} (in SYNCLINE_DATABASE_URL "
        "or the URL given): use sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
    )


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row a single-row INSERT created."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def chunks(items: Sequence[T], size: int = CHUNK_ROWS) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Database:
    """An async engine plus the transaction helpers the store's tables use."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.dialect = self.url.get_backend_name()
        # Each backend's dialect package is imported with its driver; the other
        # backend's (its types, compiler and insert construct) is never loaded.
        self._insert: Callable[[sa.Table], Any]
        if self.dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            self.engine: AsyncEngine = create_async_engine(
                self.url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}
            )
            _configure_sqlite(self.engine)
            self._insert = sqlite.insert
        else:
            from sqlalchemy.dialects import postgresql

            self.engine = create_async_engine(self.url, pool_pre_ping=True)
            self._insert = postgresql.insert

    async def prepare(self) -> None:
        """Get the database ready for connections (before the first one).

        On SQLite: check the file's directory exists and switch the file to WAL.
        The switch is done once, here, because ``PRAGMA journal_mode=WAL`` can
        fail with "database is locked" without waiting on the busy timeout when
        several processes open a new database at the same moment; here it is
        retried until the busy timeout runs out. WAL mode is stored in the file,
        so later connections find it already set.
        """
        if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
            await asyncio.to_thread(_ensure_wal, Path(str(self.url.database)))

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A transaction for reads; committed (a no-op) on exit."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on normal exit, rolled back on an exception."""
        async with self.engine.connect() as conn:
            await conn.execution_options(syncline_write=True)
            async with conn.begin():
                yield conn

    def insert(self, table: sa.Table) -> Any:
        """An INSERT supporting ``on_conflict_do_update``/``_do_nothing`` on both backends."""
        return self._insert(table)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _ensure_wal(path: Path) -> None:
    if not path.parent.is_dir():
        raise StoreError(
            f"the directory {path.parent} of the SQLite database {path} does not exist; "
            "create it, or fix the database URL"
        )
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            with closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)) as conn:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if mode != "wal":
                    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"the SQLite database {path} cannot be switched to WAL mode")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver: it would otherwise BEGIN
        # lazily (deferred) and commit around DDL behind our back.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # journal_mode=WAL is set once by Database.prepare and stored in the file.
        for pragma in (
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get("syncline_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
