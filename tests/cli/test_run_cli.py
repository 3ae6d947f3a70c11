"""``syncline run``, ``syncline runs`` and ``syncline runs show`` as a user calls them."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

import testconnector.connector  # noqa: F401 - registers crm-test
from testconnector.world import CLI, World, import_world

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


# Runs the test CLI (argv[2:]) and writes the collector's state at exit to argv[1].
GC_PROBE = """
import atexit, gc, json, runpy, sys
out = sys.argv[1]
def record():
    with open(out, "w") as f:
        json.dump({"enabled": gc.isenabled(), "threshold": gc.get_threshold()[0],
                   "young_collections": gc.get_stats()[0]["collections"]}, f)
atexit.register(record)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


async def _gc_state_after(world: World, tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "gc.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", GC_PROBE, str(out), str(CLI), *args, env=world.ws.env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.wait_for(process.wait(), 120)
    return json.loads(out.read_text())  # type: ignore[no-any-return]


async def test_the_collector_is_off_during_start_up_and_back_on_for_the_run(
    world: World, tmp_path: Path
) -> None:
    state = await _gc_state_after(world, tmp_path, "run", "contacts")
    assert state["enabled"] and state["threshold"] == 10_000
    # Start-up allocates hundreds of thousands of objects: with the collector
    # on, that alone is hundreds of young collections (one per 700).
    assert state["young_collections"] < 100, state
    # A pipeline that cannot run still leaves the collector on.
    state = await _gc_state_after(world, tmp_path, "run", "nope")
    assert state["enabled"]
