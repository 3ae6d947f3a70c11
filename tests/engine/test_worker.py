"""The worker runs scheduled pipelines when due, one live run per pipeline."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import testconnector.connector  # noqa: F401 - registers crm-test
from testconnector.world import import_world

import syncline.connectors.sqlite  # noqa: F401 - registers the destination
from syncline.engine.schedule import is_due
from syncline.engine.worker import Worker


async def test_worker_once_runs_only_due_scheduled_pipelines(tmp_path: Path) -> None:
    world = await import_world(tmp_path, 200, schedule_seconds=3600)
    try:
        store = await world.store()
        try:
            await world.ws.pipeline(
                store,
                "manual",
                kind="import",
                source="crm",
                destination="db",
                destination_options={"table": "manual", "create_table": True},
            )
        finally:
            await store.close()
        first = await world.ws.cli("worker", "--once")
        assert first.code == 0, first.stderr
        assert first.stdout.strip() == "contacts: run 1 succeeded"
        again = await world.ws.cli("worker", "--once")
        assert again.code == 0
        assert again.stdout.strip() == ""  # not due for another hour
        runs = (await world.ws.cli("runs", "--json")).json()
        assert [(r["pipeline"], r["status"]) for r in runs] == [("contacts", "succeeded")]
    finally:
        await world.server.stop()


async def test_worker_runs_again_when_due_and_skips_a_pipeline_running_elsewhere(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    world = await import_world(tmp_path, 100, schedule_seconds=60)
    monkeypatch.setitem(os.environ, "SYNCLINE_HOME", str(world.ws.home))
    store = await world.store()
    try:
        now = {"t": datetime.now(UTC)}
        finished: list[str] = []
        worker = Worker(
            store, clock=lambda: now["t"], on_finish=lambda p, r: finished.append(r.status)
        )
        await asyncio.gather(*await worker.tick())
        assert finished == ["succeeded"]
        assert await worker.tick() == []

        now["t"] += timedelta(seconds=61)
        world.app.change("c5", name="Changed")
        await asyncio.gather(*await worker.tick())
        assert finished == ["succeeded", "succeeded"]
        pipeline = await store.pipelines.get("contacts")
        latest = (await store.runs.list(pipeline.id, limit=1))[0]
        assert latest.full is False and latest.counts["read"] == 2

        # Another machine's live run holds the lease: the worker leaves it alone.
        foreign = await store.runs.start(pipeline.id, owner="elsewhere:1:abcd", full=False)
        now["t"] += timedelta(seconds=61)
        await asyncio.gather(*await worker.tick())
        assert finished == ["succeeded", "succeeded"]
        assert (await store.runs.get(foreign.id)).status == "running"
    finally:
        await store.close()
        await world.server.stop()


def test_is_due_counts_from_the_last_start() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)

    class Last:
        started_at = start

    assert is_due(60, None, start)
    assert not is_due(60, Last(), start + timedelta(seconds=59))  # type: ignore[arg-type]
    assert is_due(60, Last(), start + timedelta(seconds=60))  # type: ignore[arg-type]
