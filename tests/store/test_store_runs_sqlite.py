"""A run's checkpoint on a SQLite file takes the raw path (syncline.store.runs_sqlite).

It must write and return exactly what the SQLAlchemy path does (which an
in-memory SQLite database and PostgreSQL take), refuse what it refuses, and
not go through SQLAlchemy at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syncline.store import ErrorGroup, LeaseLost, Store, Workspace, open_store

T0 = datetime(2025, 6, 1, 8, 30, 15, 123456, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, 0, 654321, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """A store on a SQLite file (raw checkpoints) and one in memory (SQLAlchemy's)."""
    on_file = Workspace(tmp_path / "file")
    on_file.ensure()
    raw = await open_store(workspace=on_file, clock=Clock())
    plain = await open_store(
        "sqlite:///:memory:", workspace=Workspace(tmp_path / "memory"), clock=Clock()
    )
    assert raw.runs._raw is not None and plain.runs._raw is None
    try:
        yield raw, plain
    finally:
        await raw.close()
        await plain.close()


async def _story(store: Store) -> list[Any]:
    """Checkpoints of every kind, and what the store reads back after each."""
    source = await store.connections.save("src", connector="hubspot", roles=["source"])
    pipeline = await store.pipelines.save(
        "contacts", kind="import", target="users", source_connection_id=source.id
    )
    run = await store.runs.start(pipeline.id, owner="w1", full=True)
    seen: list[Any] = []

    async def read_back() -> None:
        got = await store.runs.get(run.id)
        cp = await store.runs.checkpoint_of(pipeline.id)
        # Every ID marked so far: all carry the generation of this full run.
        marked = await store.runs.unseen_record_ids(pipeline.id, cp.generation + 1)
        seen.append((cp, got.counts, got.error_groups, got.timings, got.heartbeat_at, marked))

    seen.append(
        await store.runs.checkpoint(
            run.id,
            owner="w1",
            cursor="page-2",
            high_water=T0,
            seen_record_ids=["b", "a", "b"],
            counts={"read": 100, "written": 98},
            error_groups=[ErrorGroup("email is not valid", 2, "rec-7")],
            timings={"read": 1.5, "write": 0.25},
        )
    )
    await read_back()
    # An earlier batch time keeps the later mark; no totals: only the heartbeat moves.
    seen.append(
        await store.runs.checkpoint(
            run.id, owner="w1", cursor=None, high_water=T0 - timedelta(days=1)
        )
    )
    await read_back()
    seen.append(
        await store.runs.checkpoint(
            run.id,
            owner="w1",
            cursor="page-3",
            high_water=T0 + timedelta(microseconds=1),
            seen_record_ids=["a", "c"],
            counts={"read": 200},
            error_groups=[],
            timings={},
        )
    )
    await read_back()
    # Refusals, with their messages: another owner; a checkpoint that no longer
    # holds this run's progress (no call makes one while the run is live, so
    # the row is changed by hand, then put back); a run that ended.
    with pytest.raises(LeaseLost) as refused:
        await store.runs.checkpoint(run.id, owner="w2", cursor="x", high_water=T0)
    seen.append(str(refused.value))
    await read_back()
    await _set_checkpoint_run(store, pipeline.id, None)
    with pytest.raises(LeaseLost) as refused:
        await store.runs.checkpoint(run.id, owner="w1", cursor="x", high_water=T0)
    seen.append(str(refused.value))
    await _set_checkpoint_run(store, pipeline.id, run.id)
    await read_back()
    await store.runs.finish(run.id, owner="w1", status="failed")
    with pytest.raises(LeaseLost) as refused:
        await store.runs.checkpoint(run.id, owner="w1", cursor="x", high_water=T0)
    seen.append(str(refused.value))
    await read_back()
    return seen


async def _set_checkpoint_run(store: Store, pipeline_id: int, run_id: int | None) -> None:
    async with store.database.engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE pipeline_checkpoints SET run_id = :run WHERE pipeline_id = :pipeline"),
            {"run": run_id, "pipeline": pipeline_id},
        )


async def test_the_raw_path_writes_and_returns_what_sqlalchemy_does(
    stores: tuple[Store, Store],
) -> None:
    raw, plain = stores
    assert await _story(raw) == await _story(plain)


async def test_a_checkpoint_on_a_sqlite_file_does_not_go_through_sqlalchemy(
    stores: tuple[Store, Store],
) -> None:
    raw, _ = stores
    source = await raw.connections.save("src", connector="hubspot", roles=["source"])
    pipeline = await raw.pipelines.save(
        "contacts", kind="import", target="users", source_connection_id=source.id
    )
    run = await raw.runs.start(pipeline.id, owner="w", full=True)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(raw.database.engine.sync_engine, "before_cursor_execute", count)
    try:
        for page in range(3):
            await raw.runs.checkpoint(
                run.id, owner="w", cursor=str(page), high_water=T0, seen_record_ids=["x"]
            )
    finally:
        sa.event.remove(raw.database.engine.sync_engine, "before_cursor_execute", count)
    assert statements == []
    assert (await raw.runs.checkpoint_of(pipeline.id)).cursor == "2"


async def test_a_refused_raw_checkpoint_writes_nothing(stores: tuple[Store, Store]) -> None:
    raw, _ = stores
    source = await raw.connections.save("src", connector="hubspot", roles=["source"])
    pipeline = await raw.pipelines.save(
        "contacts", kind="import", target="users", source_connection_id=source.id
    )
    run = await raw.runs.start(pipeline.id, owner="w", full=True)
    await raw.runs.checkpoint(run.id, owner="w", cursor="1", high_water=T0)
    before = await raw.runs.checkpoint_of(pipeline.id)
    await raw.runs.finish(run.id, owner="w", status="interrupted")
    with pytest.raises(LeaseLost, match="is interrupted under owner 'w'"):
        await raw.runs.checkpoint(
            run.id, owner="w", cursor="2", high_water=T0 + timedelta(days=1), seen_record_ids=["z"]
        )
    after = await raw.runs.checkpoint_of(pipeline.id)
    assert (after.cursor, after.run_high_water) == (before.cursor, before.run_high_water)
    assert await raw.runs.unseen_record_ids(pipeline.id, before.generation + 1) == []
