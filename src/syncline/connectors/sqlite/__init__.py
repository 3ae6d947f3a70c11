"""SQLite: read a table or query incrementally, merge records into a table.

Source and destination of any target; the pipeline's options
(:class:`~syncline.connectors._sql.options.DatabaseOptions`) name the table or
query, the key column and the updated_at column. See docs/connectors/sqlite.md.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from syncline.connectors._sql.database import Database, MissingDatabase
from syncline.connectors._sql.options import DatabaseOptions
from syncline.connectors.sqlite._connection import SqliteConnection
from syncline.sdk.env import Env, Problem
from syncline.sdk.errors import ConfigError
from syncline.sdk.registry import connector
from syncline.sdk.spec import (
    ANY_TARGET,
    ApplicationSpec,
    AsDestination,
    AsSource,
    Category,
    SendingMode,
)

__all__ = ["SPEC", "SQLite", "SqliteSettings"]


class SqliteSettings(BaseModel):
    """Where the database is.

    ``path`` is the database file (``~`` is expanded; a relative path is
    relative to the working directory of the Syncline process).
    ``busy_timeout`` is how long a statement waits for another writer's lock
    before the operation fails as retryable.
    """

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Path of the SQLite database file")
    busy_timeout: float = Field(
        default=10.0, gt=0, le=600, description="Seconds to wait for a lock"
    )

    @field_validator("path")
    @classmethod
    def _a_file(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("give the path of the SQLite database file")
        if value == ":memory:" or value.startswith("file::memory:"):
            raise ValueError(
                "an in-memory database lives only as long as one connection; give a file path"
            )
        return value


SPEC = ApplicationSpec(
    code="sqlite",
    label="SQLite",
    categories=(Category.DATABASE,),
    as_source=AsSource(
        targets=(ANY_TARGET,),
        summary="Read a table or query, incrementally by an updated_at column.",
    ),
    as_destination=AsDestination(
        targets=(ANY_TARGET,),
        sending_mode=SendingMode.NONE,
        summary="Merge records into a table on its key column; create the table if asked.",
    ),
    settings=SqliteSettings,
    pipeline_options=DatabaseOptions,
    description="A SQLite database file on this machine.",
)


@connector(SPEC)
class SQLite(Database[SqliteSettings]):
    """The SQLite connector (see the module docstring and the shared ``Database``)."""

    def __init__(self, env: Env[SqliteSettings]) -> None:
        super().__init__(env)
        self._idle: tuple[tuple[str, float], SqliteConnection] | None = None

    async def connect(self, settings: SqliteSettings, *, create: bool) -> SqliteConnection:
        """An open connection: the idle one of the last operation when still valid.

        One idle connection is kept per instance (reopening a WAL database
        checkpoints it on every close). It is reused only for the same path and
        timeout and while the path still names the same file; an operation
        running while another holds it opens its own.
        """
        key = (self.identity(settings), settings.busy_timeout)
        idle, self._idle = self._idle, None
        if idle is not None:
            same = idle[0] == key and await asyncio.to_thread(idle[1].same_file, settings.path)
            if same:
                conn = idle[1]
                conn.keep = self._keeper(key)
                return conn
            idle[1].keep = None
            await idle[1].close()
        conn = await SqliteConnection.open(
            settings.path, create=create, busy_timeout=settings.busy_timeout
        )
        conn.keep = self._keeper(key)
        return conn

    async def finish(self, target: str) -> None:
        """The end of an import run into this database: close the kept connection.

        The connection kept between operations (see :meth:`connect`) is closed,
        which checkpoints a WAL database into its main file. An operation after
        ``finish`` opens a new connection. The kept connection is also closed
        when the instance is garbage-collected (``sqlite3`` closes a connection
        it frees), so an instance that is never finished leaks nothing.
        """
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection kept between operations, if any; idempotent."""
        idle, self._idle = self._idle, None
        if idle is not None:
            idle[1].keep = None
            await idle[1].close()

    def _keeper(self, key: tuple[str, float]) -> Callable[[SqliteConnection], bool]:
        def keep(conn: SqliteConnection) -> bool:
            if self._idle is not None:
                return False
            self._idle = (key, conn)
            return True

        return keep

    def identity(self, settings: SqliteSettings) -> str:
        return os.path.abspath(os.path.expanduser(settings.path))

    async def check(self) -> list[Problem]:
        """Problems with the database file: missing, not a database, not writable.

        Never creates the file. A missing file is a problem (a source has
        nothing to read); a destination with ``create_table`` creates it on
        the first write.
        """
        settings = await self.env.settings.load()
        try:
            conn = await SqliteConnection.open(
                settings.path, create=False, read_only=True, busy_timeout=settings.busy_timeout
            )
        except MissingDatabase as exc:
            return [Problem(f"file not found: {exc.message}", "path")]
        except ConfigError as exc:
            return [Problem(exc.message, "path")]
        try:
            await conn.fetch("PRAGMA schema_version", ())
        except sqlite3.Error as exc:
            return [Problem(str(conn.error(exc, "opening the database")), "path")]
        finally:
            await conn.close()
        return await asyncio.to_thread(_write_problems, self.identity(settings))


def _write_problems(path: str) -> list[Problem]:
    problems = []
    if not os.access(path, os.W_OK):
        problems.append(
            Problem(
                "the database file is not writable by this process; it can only be read", "path"
            )
        )
    if not os.access(os.path.dirname(path), os.W_OK):
        problems.append(
            Problem(
                "the database file's directory is not writable by this process, so SQLite "
                "cannot create its journal: writes will fail",
                "path",
            )
        )
    return problems
