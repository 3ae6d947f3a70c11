"""Engine set-up: URLs, SQLite durability pragmas."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncline.store import Store, StoreError, Workspace, open_store
from syncline.store.database import normalize_url


def test_urls_get_the_async_driver() -> None:
    assert normalize_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert normalize_url("sqlite+aiosqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert normalize_url("postgresql://u@h/d").drivername == "postgresql+asyncpg"
    assert normalize_url("postgresql+asyncpg://u@h/d").drivername == "postgresql+asyncpg"
    with pytest.raises(ValueError, match="mysql"):
        normalize_url("mysql://u@h/d")
    with pytest.raises(ValueError, match="SYNCLINE_DATABASE_URL"):
        normalize_url("postgresql+psycopg://u@h/d")


async def test_sqlite_runs_in_wal_with_full_sync_and_foreign_keys(workspace: Workspace) -> None:
    store = await open_store(workspace=workspace)
    try:
        async with store.database.read() as conn:
            values = {
                pragma: (await conn.exec_driver_sql(f"PRAGMA {pragma}")).scalar()
                for pragma in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await store.close()
    # synchronous: 2 is FULL.
    assert values == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 10000,
    }


async def test_write_transactions_roll_back_on_error(store: Store) -> None:
    from syncline.store.schema import event_sources

    with pytest.raises(RuntimeError):
        async with store.database.write() as conn:
            await conn.execute(sa.delete(event_sources))
            await store.event_sources.list()  # another connection, independent
            raise RuntimeError("boom")
    assert await store.event_sources.list() == []
    await store.event_sources.create("s")
    with pytest.raises(RuntimeError):
        async with store.database.write() as conn:
            await conn.execute(sa.delete(event_sources))
            raise RuntimeError("boom")
    assert [s.name for s in await store.event_sources.list()] == ["s"]


async def test_write_transactions_take_the_sqlite_write_lock_up_front(
    workspace: Workspace,
) -> None:
    store = await open_store(workspace=workspace)
    other = sqlite3.connect(workspace.database_path, timeout=0)
    try:
        async with store.database.write():
            # Nothing written yet, but the lock is held: another writer must wait.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        async with store.database.read():
            other.execute("BEGIN IMMEDIATE")  # a read transaction does not block writers
            other.rollback()
    finally:
        other.close()
        await store.close()


async def test_sqlite_file_in_a_missing_directory(tmp_path: Path, workspace: Workspace) -> None:
    missing = tmp_path / "nowhere" / "db.sqlite"
    with pytest.raises(StoreError, match=str(missing.parent)):
        await open_store(f"sqlite:///{missing}", workspace=workspace)


async def test_store_as_context_manager_reports_its_backend(
    database_url: str, workspace: Workspace
) -> None:
    async with await open_store(database_url, workspace=workspace) as store:
        assert store.backend == ("sqlite" if database_url.startswith("sqlite") else "postgresql")
        assert await store.connections.list() == []
    # Closed: its pool is disposed; opening again works.
    async with await open_store(database_url, workspace=workspace) as again:
        assert await again.revision() is not None
