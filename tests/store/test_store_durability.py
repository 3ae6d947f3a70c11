"""A checkpoint acknowledged before a kill -9 is there after reopening."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syncline.store import Workspace, open_store

WRITER = Path(__file__).with_name("store_checkpoint_writer.py")
ACKS_BEFORE_KILL = 25


async def _line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), timeout=60)).decode()


async def test_acknowledged_checkpoint_survives_kill_9(
    database_url: str, workspace: Workspace
) -> None:
    workspace.cipher({})
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WRITER),
        database_url,
        str(workspace.path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    try:
        ready = await _line(child.stdout)
        if not ready.startswith("READY "):
            child.kill()
            raise AssertionError((await child.stderr.read()).decode())
        pipeline_id = int(ready.split()[1])
        acked = 0
        while acked < ACKS_BEFORE_KILL:
            line = await _line(child.stdout)
            assert line.startswith("ACK "), line
            acked = int(line.split()[1])
        # Kill mid-stream: the child is busy writing the next checkpoints.
        child.send_signal(signal.SIGKILL)
        await asyncio.wait_for(child.wait(), timeout=30)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert child.returncode == -signal.SIGKILL

    store = await open_store(database_url, workspace=workspace)
    try:
        cp = await store.runs.checkpoint_of(pipeline_id)
        assert cp.cursor is not None
        written = int(cp.cursor.removeprefix("page-"))
        # Everything acknowledged is there; a write in flight may or may not be.
        assert written >= acked
        assert cp.run_high_water == datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=written)
        assert cp.generation == 1
        run = await store.runs.live(pipeline_id)
        assert run is not None and run.owner == "child"
        assert run.counts == {"read": written * 20}  # same transaction as the cursor

        # The dead child's run is taken over and resumed from its checkpoint.
        second = await store.runs.start(
            pipeline_id, owner="parent", full=True, stale_after=timedelta(0)
        )
        assert second.resumed_from_run_id == run.id
        assert (await store.runs.checkpoint_of(pipeline_id)).cursor == cp.cursor
        await store.runs.finish(second.id, owner="parent", status="succeeded")
        # Every ID of every written batch was recorded along with its checkpoint.
        third = await store.runs.start(pipeline_id, owner="parent", full=True)
        await store.runs.finish(third.id, owner="parent", status="succeeded")
        unseen = await store.runs.unseen_record_ids(pipeline_id, 3, limit=100_000)
        assert len(unseen) == written * 20
    finally:
        await store.close()
