"""``syncline run``, ``syncline runs`` and ``syncline runs show`` as a user calls them."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

import testconnector.connector  # noqa: F401 - registers crm-test
from testconnector.world import World, import_world

import syncline.connectors.sqlite  # noqa: F401 - registers the destination


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await import_world(tmp_path, 400, batch_size=100)
    try:
        yield w
    finally:
        await w.server.stop()


async def test_run_prints_a_summary_and_runs_lists_and_shows_it(world: World) -> None:
    world.app.change("c9", score="bad")
    result = await world.ws.cli("run", "contacts")
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("run 1 of contacts: succeeded")
    assert "read 400" in result.stdout and "written 399" in result.stdout
    assert '1 × property "score"' in result.stdout and "(e.g. record c9)" in result.stdout

    listed = await world.ws.cli("runs")
    assert listed.code == 0
    [header, row] = listed.stdout.splitlines()
    assert header.split() == [
        "RUN",
        "PIPELINE",
        "STATUS",
        "KIND",
        "STARTED",
        "READ",
        "WRITTEN",
        "FAILED",
        "SECONDS",
        "RESUMES",
    ]
    assert row.split()[:4] == ["1", "contacts", "succeeded", "full"]
    assert row.split()[6:9] == ["400", "399", "1"]

    shown = await world.ws.cli("runs", "show", "1")
    assert shown.code == 0
    assert "run 1 of contacts: succeeded" in shown.stdout
    assert "invalid" in shown.stdout and "timings (s):" in shown.stdout

    as_json = (await world.ws.cli("runs", "show", "1", "--json")).json()
    assert as_json["counts"]["invalid"] == 1
    assert as_json["errors"][0]["sample_record_id"] == "c9"


async def test_unknown_run_and_bad_usage_exit_2(world: World) -> None:
    missing = await world.ws.cli("runs", "show", "99")
    assert missing.code == 2
    assert "run 99 does not exist" in missing.stderr
    assert (await world.ws.cli("runs", "show", "x")).code == 2
    assert (await world.ws.cli("runs", "nope")).code == 2


async def test_second_run_of_a_running_pipeline_exits_2(world: World) -> None:
    store = await world.store()
    try:
        pipeline = await store.pipelines.get("contacts")
        # A live run owned by a worker on another machine, heartbeat fresh.
        live = await store.runs.start(pipeline.id, owner="elsewhere:1:abcd", full=True)
    finally:
        await store.close()
    result = await world.ws.cli("run", "contacts")
    assert result.code == 2
    assert f"pipeline 'contacts' is already running (run {live.id})" in result.stderr
    assert world.server.requests("/contacts") == []


async def test_an_events_pipeline_is_not_run(world: World) -> None:
    store = await world.store()
    try:
        crm = await store.connections.get("crm")
        await store.pipelines.save(
            "deliver", kind="events", target="events", destination_connection_id=crm.id
        )
    finally:
        await store.close()
    result = await world.ws.cli("run", "deliver")
    assert result.code == 2
    assert "events pipeline" in result.stderr
