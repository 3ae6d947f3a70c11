"""Purge: a full import deletes from the destination what the app no longer returns."""

from __future__ import annotations

from pathlib import Path

import testconnector.connector  # registers crm-test
import testconnector.table  # noqa: F401 - registers table-test
from testconnector.table import read_table
from testconnector.world import import_world, table_ids

import syncline.connectors.sqlite  # noqa: F401 - registers sqlite


async def test_full_run_purges_records_the_app_no_longer_returns(tmp_path: Path) -> None:
    world = await import_world(tmp_path, 600, purge=True, batch_size=200, destination_options={})
    table = tmp_path / "table.json"
    store = await world.store()
    try:
        await store.connections.save(
            "table", connector="table-test", roles=["destination"], settings={"path": str(table)}
        )
        await world.ws.pipeline(
            store,
            "contacts",
            kind="import",
            source="crm",
            destination="table",
            purge=True,
            batch_size=200,
        )
    finally:
        await store.close()

    first = (await world.ws.cli("run", "contacts", "--json")).json()
    assert first["status"] == "succeeded" and first["counts"]["purged"] == 0
    assert len(read_table(table)) == 600

    for i in range(1, 21):
        world.app.delete(f"c{i}")
    world.app.seed(5, start=1000)  # new ones, seen by an incremental run first
    incremental = (await world.ws.cli("run", "contacts", "--json")).json()
    assert incremental["full"] is False and incremental["counts"]["purged"] == 0
    assert len(read_table(table)) == 605  # an incremental run cannot know what is gone

    full = (await world.ws.cli("run", "contacts", "--full", "--json")).json()
    assert full["status"] == "succeeded"
    assert full["counts"]["purged"] == 20
    assert sorted(read_table(table)) == sorted(world.app.contacts)

    again = (await world.ws.cli("run", "contacts", "--full", "--json")).json()
    assert again["counts"]["purged"] == 0
    await world.server.stop()


async def test_full_run_purges_rows_from_a_sqlite_table(tmp_path: Path) -> None:
    world = await import_world(tmp_path, 300, purge=True, batch_size=100)
    try:
        first = (await world.ws.cli("run", "contacts", "--json")).json()
        assert first["status"] == "succeeded" and first["counts"]["purged"] == 0
        assert len(table_ids(world.db, "contacts")) == 300

        for i in range(1, 31):
            world.app.delete(f"c{i}")
        full = (await world.ws.cli("run", "contacts", "--full", "--json")).json()
        assert full["status"] == "succeeded" and full["counts"]["purged"] == 30
        assert sorted(table_ids(world.db, "contacts")) == sorted(world.app.contacts)
        assert len(world.app.contacts) == 270
    finally:
        await world.server.stop()


async def test_purge_into_a_destination_that_cannot_delete_exits_2(tmp_path: Path) -> None:
    world = await import_world(tmp_path, 10)
    store = await world.store()
    try:
        # The crm-test app takes records (upsert) but has no delete(target, ids).
        await world.ws.pipeline(
            store, "mirror", kind="import", source="crm", destination="crm", purge=True
        )
    finally:
        await store.close()
    try:
        result = await world.ws.cli("run", "mirror")
        assert result.code == 2
        assert "'crm-test' cannot delete records; set purge: false" in result.stderr
    finally:
        await world.server.stop()
