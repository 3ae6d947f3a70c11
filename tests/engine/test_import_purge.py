"""Purge: a full import deletes from the destination what the app no longer returns."""

from __future__ import annotations

from pathlib import Path

import testconnector.connector  # registers crm-test
import testconnector.table  # noqa: F401 - registers table-test
from testconnector.table import read_table
from testconnector.world import import_world

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


async def test_purge_into_a_destination_that_cannot_delete_exits_2(tmp_path: Path) -> None:
    world = await import_world(tmp_path, 10, purge=True)
    try:
        result = await world.ws.cli("run", "contacts")
        assert result.code == 2
        assert "cannot delete records; set purge: false" in result.stderr
    finally:
        await world.server.stop()
