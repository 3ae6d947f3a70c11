"""The store: one async interface over SQLite (default) or PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType

import sqlalchemy as sa

from syncline.store import migrations
from syncline.store.cipher import SettingsCipher
from syncline.store.connections import Connections
from syncline.store.database import Database
from syncline.store.event_log import EventLog
from syncline.store.event_sources import EventSources
from syncline.store.identities import Identities
from syncline.store.pipelines import Pipelines
from syncline.store.runs import Runs
from syncline.store.workspace import Workspace

__all__ = ["DATABASE_URL_ENV", "Store", "open_store"]

DATABASE_URL_ENV = "SYNCLINE_DATABASE_URL"

# Any constant works; it only has to be the same in every Syncline process.
_MIGRATION_LOCK_ID = 0x5359_4E43


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Persistence for connections, pipelines, runs, checkpoints and event sources.

    The tables are grouped by what they hold, each an attribute with typed async
    methods: :attr:`connections`, :attr:`pipelines`, :attr:`runs` (with the
    checkpoints and imported record IDs), :attr:`identities` and
    :attr:`event_sources`. Every method runs one short transaction of its own;
    when a method returns, what it wrote is committed and durable.

    :attr:`database` (:class:`~syncline.store.database.Database`) is the engine
    with its ``read()``/``write()`` transactions and a dialect-neutral
    ``insert()`` for upserts, for code that brings its own tables through a
    migration (see :mod:`syncline.store.migrations`).

    Use :func:`open_store` to get one, and close it (``await store.close()`` or
    ``async with``) to release its connections.
    """

    def __init__(
        self,
        database: Database,
        cipher: SettingsCipher,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.database = database
        self.connections = Connections(database, cipher, clock)
        self.pipelines = Pipelines(database, clock)
        self.runs = Runs(database, clock)
        self.identities = Identities(database, clock)
        self.event_sources = EventSources(database, clock)
        self.event_log = EventLog(database)

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.database.dialect

    async def migrate(self) -> None:
        """Bring the schema to the newest revision; a no-op when it is there.

        Safe to call from several processes at once: on SQLite the write lock and
        on PostgreSQL an advisory lock let one migrate while the others wait.
        ``StoreError`` when the database was migrated by a newer Syncline.

        A database at the head is recognised in a read transaction, so opening
        a store takes no write lock (and does not wait behind a long writer in
        another process) unless there is migrating to do.
        """
        async with self.database.read() as conn:
            current = await conn.run_sync(migrations.current_revision)
        if current == migrations.head_revision():
            return
        async with self.database.write() as conn:
            if not self.database.is_sqlite:
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            await conn.run_sync(migrations.upgrade)

    async def revision(self) -> str | None:
        """The schema revision the database is at (``None`` when empty)."""
        async with self.database.read() as conn:
            return await conn.run_sync(migrations.current_revision)

    async def close(self) -> None:
        """Close every pooled database connection, and the run checkpoints' own."""
        self.runs.close()
        await self.database.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def open_store(
    url: str | None = None,
    *,
    workspace: Workspace | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> Store:
    """Open (and migrate) the store.

    The database is ``url`` if given, else ``SYNCLINE_DATABASE_URL`` if set, else
    the workspace's SQLite file (``SYNCLINE_HOME``/``syncline.db``, directory
    created on demand). Plain ``sqlite:///`` and ``postgresql://`` URLs get the
    async driver. The settings key comes from ``SYNCLINE_SECRET_KEY`` or the
    workspace's key file (created on first use). ``clock`` returns the current
    UTC time (tests pass a fake one).

    Raises ``SecretKeyError``/``KeyFileError`` for an unusable key, ``ValueError``
    for an unsupported URL, ``StoreError`` for a database newer than this code.
    """
    ws = workspace if workspace is not None else Workspace.from_environment()
    chosen = url or os.environ.get(DATABASE_URL_ENV) or None
    if chosen is None:
        await asyncio.to_thread(ws.ensure)
        chosen = ws.database_url
    cipher = await asyncio.to_thread(ws.cipher)
    store = Store(Database(chosen), cipher, clock)
    try:
        await store.database.prepare()
        await store.migrate()
    except BaseException:
        await store.close()
        raise
    return store
