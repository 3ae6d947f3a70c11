"""Migrations: empty → head on both backends, head matches the table metadata."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from syncline.store import Store, StoreError, Workspace, migrations, open_store
from syncline.store.schema import metadata

TABLES = {
    "connections",
    "event_sources",
    "identities",
    "pipeline_checkpoints",
    "pipeline_records",
    "pipelines",
    "runs",
}


def _differences(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def _tables(connection: sa.Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


async def test_head_matches_table_metadata(store: Store) -> None:
    async with store.database.read() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == [], (
        "the migrations and syncline.store.schema disagree; add a migration "
        "(see syncline.store.migrations)"
    )


async def test_unique_live_run_index_is_partial_on_the_backend(store: Store) -> None:
    def indexes(connection: sa.Connection) -> dict[str, Any]:
        return {str(i["name"]): i for i in sa.inspect(connection).get_indexes("runs")}

    async with store.database.read() as conn:
        found = await conn.run_sync(indexes)
    index = found["uq_runs_one_running_per_pipeline"]
    assert index["unique"]
    where = index.get("dialect_options", {})
    assert any("running" in str(v) for k, v in where.items() if k.endswith("_where")), index


async def test_empty_to_head_down_to_base_and_up_again(store: Store) -> None:
    assert await store.revision() == migrations.head_revision()
    async with store.database.read() as conn:
        assert await conn.run_sync(_tables) >= TABLES
    async with store.database.write() as conn:
        await conn.run_sync(migrations.downgrade, "base")
    async with store.database.read() as conn:
        assert await conn.run_sync(_tables) & TABLES == set()
    assert await store.revision() is None
    await store.migrate()
    assert await store.revision() == migrations.head_revision()
    async with store.database.read() as conn:
        assert await conn.run_sync(_differences) == []


async def test_reopen_is_idempotent_and_keeps_data(database_url: str, workspace: Workspace) -> None:
    first = await open_store(database_url, workspace=workspace)
    connection = await first.connections.save(
        "c", connector="stripe", roles=["source"], settings={"k": "v"}
    )
    await first.close()
    for _ in range(2):
        again = await open_store(database_url, workspace=workspace)
        assert await again.revision() == migrations.head_revision()
        assert (await again.connections.load_settings(connection.id)).values == {"k": "v"}
        await again.close()


async def test_concurrent_first_opens_migrate_once(database_url: str, workspace: Workspace) -> None:
    workspace.cipher({})  # create the key up front; the test is about the schema
    stores = await asyncio.gather(
        *(open_store(database_url, workspace=workspace) for _ in range(4))
    )
    try:
        for s in stores:
            assert await s.revision() == migrations.head_revision()
    finally:
        for s in stores:
            await s.close()


async def test_database_from_a_newer_version_is_refused(
    store: Store, database_url: str, workspace: Workspace
) -> None:
    async with store.database.write() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match=r"'9999'.*upgrade Syncline"):
        await open_store(database_url, workspace=workspace)
