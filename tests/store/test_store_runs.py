from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from syncline.store import ErrorGroup, LeaseLost, NotFound, Pipeline, RunAlreadyLive, Store

if TYPE_CHECKING:
    from conftest import FakeClock

T0 = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
async def pipeline(store: Store) -> Pipeline:
    source = await store.connections.save("src", connector="hubspot", roles=["source"])
    return await store.pipelines.save(
        "contacts", kind="import", target="users", source_connection_id=source.id
    )


async def test_new_pipeline_has_an_empty_checkpoint(store: Store, pipeline: Pipeline) -> None:
    cp = await store.runs.checkpoint_of(pipeline.id)
    assert (cp.run_id, cp.cursor, cp.run_high_water, cp.high_water, cp.generation) == (
        None,
        None,
        None,
        None,
        0,
    )
    assert await store.runs.live(pipeline.id) is None
    assert await store.runs.list(pipeline.id) == []
    with pytest.raises(NotFound):
        await store.runs.checkpoint_of(pipeline.id + 1000)
    with pytest.raises(NotFound):
        await store.runs.start(pipeline.id + 1000, owner="w", full=True)


async def test_successful_run_promotes_high_water(
    store: Store, pipeline: Pipeline, clock: FakeClock
) -> None:
    run = await store.runs.start(pipeline.id, owner="w1", full=False)
    assert run.status == "running"
    assert run.owner == "w1"
    assert run.started_at == run.heartbeat_at == clock.now
    assert (await store.runs.checkpoint_of(pipeline.id)).run_id == run.id

    clock.advance(seconds=3)
    cp = await store.runs.checkpoint(
        run.id,
        owner="w1",
        cursor="page-2",
        high_water=T0 + timedelta(hours=2),
        counts={"read": 100, "written": 98},
        error_groups=[ErrorGroup("email is not valid", 2, "rec-7")],
        timings={"read": 1.5},
    )
    assert cp.cursor == "page-2"
    assert cp.run_high_water == T0 + timedelta(hours=2)
    assert cp.high_water is None  # not promoted before the run succeeds
    # An earlier batch high-water never moves the run's mark back.
    cp = await store.runs.checkpoint(run.id, owner="w1", cursor="page-3", high_water=T0)
    assert cp.run_high_water == T0 + timedelta(hours=2)
    live = await store.runs.live(pipeline.id)
    assert live is not None
    assert live.counts == {"read": 100, "written": 98}
    assert live.error_groups == (ErrorGroup("email is not valid", 2, "rec-7"),)
    assert live.heartbeat_at == clock.now

    clock.advance(seconds=1)
    finished = await store.runs.finish(
        run.id, owner="w1", status="succeeded", counts={"read": 150, "written": 148}
    )
    assert finished.status == "succeeded"
    assert finished.ended_at == clock.now
    assert finished.counts == {"read": 150, "written": 148}
    assert finished.timings == {"read": 1.5}
    cp = await store.runs.checkpoint_of(pipeline.id)
    assert cp.high_water == T0 + timedelta(hours=2)
    assert (cp.run_id, cp.cursor, cp.run_high_water) == (None, None, None)
    assert await store.runs.live(pipeline.id) is None

    # A later run that sees only older records never moves the promoted mark back.
    second = await store.runs.start(pipeline.id, owner="w1", full=False)
    await store.runs.checkpoint(second.id, owner="w1", cursor=None, high_water=T0)
    await store.runs.finish(second.id, owner="w1", status="succeeded")
    assert (await store.runs.checkpoint_of(pipeline.id)).high_water == T0 + timedelta(hours=2)
    assert [r.id for r in await store.runs.list(pipeline.id)] == [second.id, run.id]
    assert await store.runs.get(run.id) == finished


async def test_one_live_run_per_pipeline(store: Store, pipeline: Pipeline) -> None:
    run = await store.runs.start(pipeline.id, owner="w1", full=False)
    with pytest.raises(RunAlreadyLive, match="'w1'") as info:
        await store.runs.start(pipeline.id, owner="w2", full=False)
    assert info.value.run_id == run.id
    await store.runs.finish(run.id, owner="w1", status="failed", error="the app refused")
    again = await store.runs.start(pipeline.id, owner="w2", full=False)
    assert again.owner == "w2"


async def test_database_itself_rejects_a_second_running_run(
    store: Store, pipeline: Pipeline
) -> None:
    import sqlalchemy as sa

    from syncline.store.schema import runs

    await store.runs.start(pipeline.id, owner="w1", full=False)
    now = datetime.now(UTC)
    with pytest.raises(sa.exc.IntegrityError):
        async with store.database.write() as conn:
            await conn.execute(
                runs.insert().values(
                    pipeline_id=pipeline.id,
                    status="running",
                    full=False,
                    started_at=now,
                    counts={},
                    error_groups=[],
                    timings={},
                    owner="rogue",
                    heartbeat_at=now,
                )
            )


async def test_concurrent_starts_yield_exactly_one_run(store: Store, pipeline: Pipeline) -> None:
    results = await asyncio.gather(
        *(store.runs.start(pipeline.id, owner=f"w{i}", full=False) for i in range(6)),
        return_exceptions=True,
    )
    started = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, RunAlreadyLive)]
    assert len(started) == 1
    assert len(refused) == 5


async def test_stale_run_is_interrupted_taken_over_and_fenced(
    store: Store, pipeline: Pipeline, clock: FakeClock
) -> None:
    old = await store.runs.start(pipeline.id, owner="w1", full=True)
    await store.runs.checkpoint(
        old.id, owner="w1", cursor="page-5", high_water=T0, seen_record_ids=["a"]
    )
    clock.advance(seconds=30)
    await store.runs.heartbeat(old.id, owner="w1")
    clock.advance(seconds=30)
    # The heartbeat 30 s ago is recent: no takeover.
    with pytest.raises(RunAlreadyLive):
        await store.runs.start(pipeline.id, owner="w2", full=True, stale_after=timedelta(minutes=1))
    clock.advance(seconds=31)
    new = await store.runs.start(
        pipeline.id, owner="w2", full=True, stale_after=timedelta(minutes=1)
    )
    assert new.resumed_from_run_id == old.id
    interrupted = await store.runs.get(old.id)
    assert interrupted.status == "interrupted"
    assert interrupted.ended_at == clock.now
    assert interrupted.error is not None
    cp = await store.runs.checkpoint_of(pipeline.id)
    assert (cp.run_id, cp.cursor, cp.run_high_water, cp.generation) == (new.id, "page-5", T0, 1)

    # The old owner is fenced off: nothing it writes lands.
    with pytest.raises(LeaseLost):
        await store.runs.checkpoint(old.id, owner="w1", cursor="page-6", high_water=None)
    with pytest.raises(LeaseLost):
        await store.runs.heartbeat(old.id, owner="w1")
    with pytest.raises(LeaseLost):
        await store.runs.finish(old.id, owner="w1", status="succeeded")
    # And another owner cannot write the new run's progress either.
    with pytest.raises(LeaseLost):
        await store.runs.checkpoint(new.id, owner="w1", cursor="x", high_water=None)
    assert (await store.runs.checkpoint_of(pipeline.id)).cursor == "page-5"


async def test_resume_only_continues_the_same_kind_of_run(store: Store, pipeline: Pipeline) -> None:
    full = await store.runs.start(pipeline.id, owner="w", full=True)
    await store.runs.checkpoint(full.id, owner="w", cursor="full-3", high_water=T0)
    await store.runs.finish(full.id, owner="w", status="failed", error="the app timed out")
    assert (await store.runs.checkpoint_of(pipeline.id)).cursor == "full-3"

    # An incremental run cannot continue a full run's cursor: it starts afresh.
    incremental = await store.runs.start(pipeline.id, owner="w", full=False)
    assert incremental.resumed_from_run_id is None
    cp = await store.runs.checkpoint_of(pipeline.id)
    assert (cp.cursor, cp.run_high_water, cp.generation) == (None, None, 1)
    await store.runs.checkpoint(incremental.id, owner="w", cursor="inc-1", high_water=T0)
    await store.runs.finish(incremental.id, owner="w", status="interrupted")

    resumed = await store.runs.start(pipeline.id, owner="w", full=False)
    assert resumed.resumed_from_run_id == incremental.id
    assert (await store.runs.checkpoint_of(pipeline.id)).cursor == "inc-1"
    await store.runs.finish(resumed.id, owner="w", status="failed")

    # resume=False drops the progress even when it would fit.
    fresh = await store.runs.start(pipeline.id, owner="w", full=False, resume=False)
    assert fresh.resumed_from_run_id is None
    assert (await store.runs.checkpoint_of(pipeline.id)).cursor is None


async def test_full_runs_find_records_to_purge(store: Store, pipeline: Pipeline) -> None:
    first = await store.runs.start(pipeline.id, owner="w", full=True)
    assert (await store.runs.checkpoint_of(pipeline.id)).generation == 1
    await store.runs.checkpoint(
        first.id, owner="w", cursor="1", high_water=T0, seen_record_ids=["a", "b", "c"]
    )
    await store.runs.finish(first.id, owner="w", status="succeeded")
    assert await store.runs.unseen_record_ids(pipeline.id, 1) == []

    # Records seen by incremental runs count as imported too.
    incremental = await store.runs.start(pipeline.id, owner="w", full=False)
    await store.runs.checkpoint(
        incremental.id, owner="w", cursor=None, high_water=T0, seen_record_ids=["d"]
    )
    await store.runs.finish(incremental.id, owner="w", status="succeeded")

    second = await store.runs.start(pipeline.id, owner="w", full=True)
    assert (await store.runs.checkpoint_of(pipeline.id)).generation == 2
    await store.runs.checkpoint(
        second.id, owner="w", cursor="1", high_water=T0, seen_record_ids=["a", "e"]
    )
    await store.runs.finish(second.id, owner="w", status="interrupted")
    # Resuming the interrupted full run keeps its generation and what it saw.
    resumed = await store.runs.start(pipeline.id, owner="w", full=True)
    assert (await store.runs.checkpoint_of(pipeline.id)).generation == 2
    await store.runs.checkpoint(
        resumed.id, owner="w", cursor="2", high_water=T0, seen_record_ids=["c"]
    )
    await store.runs.finish(resumed.id, owner="w", status="succeeded")

    assert await store.runs.unseen_record_ids(pipeline.id, 2) == ["b", "d"]
    assert await store.runs.unseen_record_ids(pipeline.id, 2, limit=1) == ["b"]
    await store.runs.forget_record_ids(pipeline.id, ["b", "d"])
    assert await store.runs.unseen_record_ids(pipeline.id, 2) == []


async def test_many_seen_ids_in_one_checkpoint(store: Store, pipeline: Pipeline) -> None:
    run = await store.runs.start(pipeline.id, owner="w", full=True)
    ids = [f"id-{i:05d}" for i in range(2_345)]
    await store.runs.checkpoint(
        run.id, owner="w", cursor=None, high_water=None, seen_record_ids=ids
    )
    await store.runs.finish(run.id, owner="w", status="succeeded")
    second = await store.runs.start(pipeline.id, owner="w", full=True)
    await store.runs.checkpoint(
        second.id, owner="w", cursor=None, high_water=None, seen_record_ids=ids[1:]
    )
    await store.runs.finish(second.id, owner="w", status="succeeded")
    assert await store.runs.unseen_record_ids(pipeline.id, 2) == ["id-00000"]
    await store.runs.forget_record_ids(pipeline.id, ids)
    assert await store.runs.unseen_record_ids(pipeline.id, 3) == []


async def test_reset_checkpoint(store: Store, pipeline: Pipeline) -> None:
    run = await store.runs.start(pipeline.id, owner="w", full=False)
    await store.runs.checkpoint(run.id, owner="w", cursor="c", high_water=T0)
    with pytest.raises(RunAlreadyLive):
        await store.runs.reset_checkpoint(pipeline.id)
    await store.runs.finish(run.id, owner="w", status="succeeded")
    assert (await store.runs.checkpoint_of(pipeline.id)).high_water == T0
    cp = await store.runs.reset_checkpoint(pipeline.id)
    assert (cp.run_id, cp.cursor, cp.high_water) == (None, None, None)
    with pytest.raises(NotFound):
        await store.runs.reset_checkpoint(pipeline.id + 1000)


async def test_finish_checks_status_and_removed_pipeline_fences(
    store: Store, pipeline: Pipeline
) -> None:
    run = await store.runs.start(pipeline.id, owner="w", full=False)
    with pytest.raises(ValueError, match="running"):
        await store.runs.finish(run.id, owner="w", status="running")
    await store.pipelines.remove("contacts")
    with pytest.raises(LeaseLost, match="no longer exists"):
        await store.runs.checkpoint(run.id, owner="w", cursor=None, high_water=None)
