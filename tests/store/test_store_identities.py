from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncline.store import NotFound, Pipeline, Store


@pytest.fixture
async def pipeline(store: Store) -> Pipeline:
    destination = await store.connections.save("dst", connector="klaviyo", roles=["destination"])
    return await store.pipelines.save(
        "to-klaviyo", kind="export", target="users", destination_connection_id=destination.id
    )


async def test_upsert_and_lookup_in_bulk(store: Store, pipeline: Pipeline) -> None:
    pairs = [(f"user{i}@example.com", f"app-{i}") for i in range(1_234)]
    await store.identities.upsert(pipeline.id, pairs)
    assert await store.identities.count(pipeline.id) == 1_234
    wanted = [f"user{i}@example.com" for i in range(0, 1_300, 7)]
    found = await store.identities.lookup(pipeline.id, wanted)
    assert found == {v: f"app-{v[4:-12]}" for v in wanted if int(v[4:-12]) < 1_234}
    assert await store.identities.lookup(pipeline.id, []) == {}


async def test_one_value_per_record_and_one_record_per_value(
    store: Store, pipeline: Pipeline
) -> None:
    await store.identities.upsert(pipeline.id, [("a@x.io", "1"), ("b@x.io", "2")])
    # Record 1 changed its email: the old value no longer points at it.
    await store.identities.upsert(pipeline.id, [("a2@x.io", "1")])
    assert await store.identities.lookup(pipeline.id, ["a@x.io", "a2@x.io", "b@x.io"]) == {
        "a2@x.io": "1",
        "b@x.io": "2",
    }
    # A value now held by another record is re-pointed.
    await store.identities.upsert(pipeline.id, [("b@x.io", "3")])
    assert await store.identities.lookup(pipeline.id, ["b@x.io"]) == {"b@x.io": "3"}
    # Within one call the pairs apply in order: the record's last value wins.
    await store.identities.upsert(pipeline.id, [("c@x.io", "4"), ("d@x.io", "4")])
    assert await store.identities.lookup(pipeline.id, ["c@x.io", "d@x.io"]) == {"d@x.io": "4"}
    await store.identities.upsert(pipeline.id, [])
    with pytest.raises(NotFound):
        await store.identities.upsert(pipeline.id + 1000, [("e@x.io", "5")])


async def test_maps_are_per_pipeline(store: Store, pipeline: Pipeline) -> None:
    other = await store.pipelines.save(
        "other",
        kind="export",
        target="users",
        destination_connection_id=pipeline.destination_connection_id,
    )
    await store.identities.upsert(pipeline.id, [("a@x.io", "1")])
    await store.identities.upsert(other.id, [("a@x.io", "9")])
    assert await store.identities.lookup(pipeline.id, ["a@x.io"]) == {"a@x.io": "1"}
    assert await store.identities.lookup(other.id, ["a@x.io"]) == {"a@x.io": "9"}


async def test_remove_clear_and_high_water(store: Store, pipeline: Pipeline) -> None:
    await store.identities.upsert(pipeline.id, [("a@x.io", "1"), ("b@x.io", "2"), ("c@x.io", "3")])
    await store.identities.remove_records(pipeline.id, ["2", "missing"])
    assert await store.identities.lookup(pipeline.id, ["a@x.io", "b@x.io"]) == {"a@x.io": "1"}

    assert await store.identities.high_water(pipeline.id) is None
    mark = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
    await store.identities.set_high_water(pipeline.id, mark)
    assert await store.identities.high_water(pipeline.id) == mark
    assert (await store.runs.checkpoint_of(pipeline.id)).identities_high_water == mark

    await store.identities.clear(pipeline.id)
    assert await store.identities.count(pipeline.id) == 0
    assert await store.identities.high_water(pipeline.id) is None
    with pytest.raises(NotFound):
        await store.identities.high_water(pipeline.id + 1000)
    with pytest.raises(NotFound):
        await store.identities.set_high_water(pipeline.id + 1000, mark)
