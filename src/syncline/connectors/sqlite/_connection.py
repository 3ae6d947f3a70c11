"""One SQLite connection, driven from a worker thread.

The stdlib ``sqlite3`` driver is used directly: every statement runs through
``asyncio.to_thread`` (the event loop never blocks on the file), a whole
``executemany`` batch is one hop, and there is no extra queue or thread per
connection as with an async wrapper. Statements of one operation are awaited
one after another, so the connection is never used by two threads at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from syncline.connectors._sql.database import MissingDatabase
from syncline.connectors._sql.dialect import Column, Writer
from syncline.connectors._sql.naming import quote
from syncline.connectors.sqlite._types import (
    column_type,
    parse_datetime,
    read_type,
    value_writer,
)
from syncline.sdk.errors import ConfigError, PermanentError, RetryableError
from syncline.types import Type

__all__ = ["SqliteConnection"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_QUERY_VIEW = "syncline_query_columns"
# julianday() is a double: about 50 µs of resolution today, so the lower bound
# of an incremental read is widened by a millisecond (older rows are allowed,
# missing a changed one is not).
_SINCE_MARGIN = 0.001


def _split(table: str) -> tuple[str, str]:
    name = table.strip()
    if name.startswith('"') and name.endswith('"'):
        return "main", name[1:-1].replace('""', '"')
    schema, dot, rest = name.partition(".")
    return (schema, rest) if dot else ("main", name)


class SqliteConnection:
    """Implements :class:`syncline.connectors._sql.dialect.Connection` for SQLite."""

    label = "SQLite"
    begin_sql = "BEGIN IMMEDIATE"
    key_type = "TEXT"

    def __init__(self, db: sqlite3.Connection, file_id: tuple[int, int]) -> None:
        self._db = db
        self.file_id = file_id
        """(device, inode) of the database file, to notice a file replaced or deleted."""
        self.keep: Callable[[SqliteConnection], bool] | None = None
        """Called by :meth:`close`: True when it keeps the connection open for reuse."""

    @classmethod
    async def open(
        cls, path: str, *, create: bool, read_only: bool = False, busy_timeout: float = 10.0
    ) -> SqliteConnection:
        """Open the database at ``path``; MissingDatabase when absent and not ``create``."""

        def connect() -> SqliteConnection:
            full = os.path.abspath(os.path.expanduser(path))
            if os.path.isdir(full):
                raise ConfigError(
                    "is a directory, not an SQLite database file; give the path of the file",
                    field="path",
                )
            if not os.path.exists(full):
                if not create:
                    raise MissingDatabase(
                        "no SQLite database file at this path; check the setting (a "
                        "destination pipeline with 'create_table' creates the file)",
                        field="path",
                    )
                parent = os.path.dirname(full)
                if not os.path.isdir(parent):
                    raise ConfigError(
                        "the directory of the database file does not exist; create it first",
                        field="path",
                    )
            mode = "ro" if read_only else "rwc" if create else "rw"
            uri = f"file:{urllib.parse.quote(full)}?mode={mode}"
            new = not os.path.exists(full)
            try:
                db = sqlite3.connect(
                    uri,
                    uri=True,
                    timeout=busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
                if new:
                    # A file this connector creates uses WAL: one fsync per commit
                    # instead of two, and readers never block the writer. The
                    # journal mode of an existing file is left as its owner set it.
                    db.execute("PRAGMA journal_mode=WAL")
                info = os.stat(full)
                return cls(db, (info.st_dev, info.st_ino))
            except sqlite3.Error as exc:
                raise ConfigError(
                    f"SQLite cannot open the database file ({exc}); check that it exists and "
                    "that this process may read and write it and its directory",
                    field="path",
                ) from None

        return await asyncio.to_thread(connect)

    def same_file(self, path: str) -> bool:
        """Whether ``path`` is still the file this connection opened (blocking: a stat)."""
        try:
            info = os.stat(os.path.abspath(os.path.expanduser(path)))
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self.file_id

    @staticmethod
    def placeholder(position: int) -> str:
        return "?"

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        db = self._db
        return await asyncio.to_thread(lambda: db.execute(sql, params).fetchall())

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await asyncio.to_thread(self._db.execute, sql, params)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await asyncio.to_thread(self._db.executemany, sql, rows)

    async def close(self) -> None:
        """End the operation: hand the connection back for reuse, or close it.

        Closing the last connection of a WAL database checkpoints it (fsyncs),
        so an idle connection is kept between operations; one left inside a
        transaction (an operation that failed midway) is always closed.
        """
        if self.keep is not None and not self._db.in_transaction and self.keep(self):
            return
        await asyncio.to_thread(self._db.close)

    async def columns(self, table: str | None, query: str | None) -> list[Column] | None:
        return await asyncio.to_thread(self._columns, table, query)

    def _columns(self, table: str | None, query: str | None) -> list[Column] | None:
        db = self._db
        if table is not None:
            schema, name = _split(table)
            info = db.execute(f"PRAGMA {quote(schema)}.table_info({quote(name)})").fetchall()
            if not info:
                return None
            unique = self._unique_columns(schema, name, info)
        else:
            assert query is not None
            db.execute(f"CREATE TEMP VIEW {_QUERY_VIEW} AS {query.strip().rstrip(';')}")
            try:
                info = db.execute(f"PRAGMA temp.table_info({_QUERY_VIEW})").fetchall()
            finally:
                db.execute(f"DROP VIEW temp.{_QUERY_VIEW}")
            unique = set()
        columns = []
        for _cid, name, declared, notnull, _default, _pk in info:
            kind, read, integer = read_type(declared or "")
            columns.append(
                Column(
                    name=name,
                    sql_type=declared or "",
                    type=kind,
                    nullable=not notnull,
                    unique=name in unique,
                    read=read,
                    integer=integer,
                )
            )
        return columns

    def _unique_columns(self, schema: str, table: str, info: list[Any]) -> set[str]:
        db = self._db
        found = set()
        keys = [row for row in info if row[5]]
        if len(keys) == 1:
            found.add(keys[0][1])
        for _seq, index, unique, _origin, partial in db.execute(
            f"PRAGMA {quote(schema)}.index_list({quote(table)})"
        ).fetchall():
            if not unique or partial:
                continue
            cols = db.execute(f"PRAGMA {quote(schema)}.index_info({quote(index)})").fetchall()
            if len(cols) == 1 and cols[0][2] is not None:
                found.add(cols[0][2])
        return found

    def since(
        self, column: Column, expression: str, marker: str, value: dt.datetime
    ) -> tuple[str, Any]:
        # Text in any form julianday() reads, or unix seconds, whatever the declared type.
        seconds = (value - _EPOCH).total_seconds() - _SINCE_MARGIN
        condition = (
            f"(CASE WHEN typeof({expression}) IN ('integer', 'real') THEN {expression} "
            f"ELSE (julianday({expression}) - 2440587.5) * 86400.0 END) >= {marker}"
        )
        return condition, seconds

    def updated_at(self, column: Column, value: Any) -> dt.datetime | None:
        parsed = parse_datetime(value)
        return parsed if isinstance(parsed, dt.datetime) else None

    def column_type(self, t: Type) -> str:
        return column_type(t)

    def writer(self, column: Column | None, t: Type) -> Writer | None:
        numeric = column is not None and _numeric_affinity(column.sql_type)
        return value_writer(t, numeric)

    def row_error(self, exc: BaseException, columns: Sequence[str]) -> Exception | None:
        if isinstance(exc, sqlite3.IntegrityError | sqlite3.DataError):
            return PermanentError(f"SQLite rejected the record: {exc}")
        if isinstance(exc, OverflowError):
            return PermanentError("SQLite rejected the record: an integer is larger than 64 bits")
        if isinstance(exc, sqlite3.ProgrammingError) and "binding parameter" in str(exc):
            return PermanentError("SQLite rejected the record: a value has a type it cannot store")
        return None

    def bad_value(self, exc: BaseException) -> bool:
        # SQLite stores any text or integer in any column: no value is refused for its type.
        return False

    def error(self, exc: BaseException, doing: str) -> Exception:
        text = str(exc)
        lower = text.lower()
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in lower or "busy" in lower):
            return RetryableError(
                f"SQLite: the database is locked by another connection while {doing}; "
                "it is retried later"
            )
        if "readonly" in lower or "read-only" in lower:
            return ConfigError(
                f"SQLite: the database file is read-only while {doing}; let this process "
                "write the file and its directory",
                field="path",
            )
        if "not a database" in lower or "malformed" in lower:
            return ConfigError(
                f"SQLite: the file is not a valid SQLite database ({text}) while {doing}",
                field="path",
            )
        if "disk i/o" in lower or "disk is full" in lower:
            return RetryableError(f"SQLite: {text} while {doing}")
        if isinstance(exc, sqlite3.OperationalError):
            return ConfigError(
                f"SQLite could not run the statement while {doing}: {text}; check the "
                "pipeline options (table, query, key, updated_at, columns)"
            )
        return PermanentError(f"SQLite failed while {doing}: {type(exc).__name__}: {text}")


def _numeric_affinity(declared: str) -> bool:
    upper = declared.upper()
    return any(word in upper for word in ("INT", "REAL", "FLOA", "DOUB"))
