"""SIGKILL an import run mid-way; the rerun resumes it and loses nothing.

The run is ``syncline run`` in a subprocess: crm test app (real HTTP on
127.0.0.1) → SQLite table. The test waits until several batches are
checkpointed, kills the process with SIGKILL, runs the pipeline again, and
checks the destination and the run history.
"""

from __future__ import annotations

from pathlib import Path

import testconnector.connector  # noqa: F401 - registers crm-test
from testconnector.world import import_world, kill_after_batches, table_ids

import syncline.connectors.sqlite  # noqa: F401 - registers the destination

RECORDS = 50_000
BATCH = 1000


async def test_killed_import_resumes_and_every_record_lands_exactly_once(tmp_path: Path) -> None:
    world = await import_world(tmp_path, RECORDS, batch_size=BATCH, page_size=500)
    try:
        killed_id, checkpointed = await kill_after_batches(world, ["run", "contacts"], 5 * BATCH)
        assert checkpointed < RECORDS

        result = await world.ws.cli("run", "contacts", "--json")
        assert result.code == 0, result.stderr
        summary = result.json()
        assert summary["status"] == "succeeded"
        assert summary["resumed_from"] == killed_id
        # The resumed run continued from the checkpoint: totals carry over, and
        # at most the batches in flight at the kill were read again.
        assert RECORDS <= summary["counts"]["read"] <= RECORDS + 3 * BATCH

        ids = table_ids(world.db, "contacts")
        assert len(ids) == len(set(ids)) == RECORDS
        assert set(ids) == set(world.app.contacts)

        history = await world.ws.cli("runs", "contacts", "--json")
        runs = {r["run"]: r for r in history.json()}
        assert runs[killed_id]["status"] == "interrupted"
        assert runs[summary["run"]]["resumed_from"] == killed_id

        # An incremental run after the completed one reads only the changes.
        world.app.change("c123", name="After the crash")
        after = (await world.ws.cli("run", "contacts", "--json")).json()
        assert after["full"] is False
        assert after["counts"]["read"] <= 2
    finally:
        await world.server.stop()
