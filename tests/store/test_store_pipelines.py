from __future__ import annotations

import pytest

from syncline.store import Connection, NotFound, Store, StoreError


async def _connections(store: Store) -> tuple[Connection, Connection]:
    source = await store.connections.save("src", connector="hubspot", roles=["source"])
    destination = await store.connections.save("dst", connector="klaviyo", roles=["destination"])
    return source, destination


async def test_save_creates_then_updates_by_name(store: Store) -> None:
    source, destination = await _connections(store)
    config = {"filter": {"all": [["email", "is not", None]]}, "batch_size": 100, "overlap": 60}
    created = await store.pipelines.save(
        "contacts",
        kind="import",
        target="users",
        source_connection_id=source.id,
        config=config,
    )
    assert created.kind == "import"
    assert created.source_connection_id == source.id
    assert created.destination_connection_id is None
    assert created.config == config
    assert created.enabled is True

    updated = await store.pipelines.save(
        "contacts",
        kind="import",
        target="companies",
        source_connection_id=source.id,
        enabled=False,
    )
    assert updated.id == created.id
    assert updated.target == "companies"
    assert updated.config == {}
    assert updated.enabled is False
    assert await store.pipelines.get("contacts") == updated
    assert await store.pipelines.get_by_id(created.id) == updated

    export = await store.pipelines.save(
        "to-klaviyo", kind="export", target="users", destination_connection_id=destination.id
    )
    assert export.destination_connection_id == destination.id


async def test_save_checks_kind_and_ends(store: Store) -> None:
    source, destination = await _connections(store)
    with pytest.raises(ValueError, match="source connection"):
        await store.pipelines.save("p", kind="import", target="users")
    with pytest.raises(ValueError, match="destination connection"):
        await store.pipelines.save(
            "p", kind="events", target="events", source_connection_id=source.id
        )
    with pytest.raises(ValueError, match="kind"):
        await store.pipelines.save("p", kind="sync", target="users")  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="connection #999"):
        await store.pipelines.save("p", kind="import", target="users", source_connection_id=999)
    await store.pipelines.save(
        "p", kind="export", target="users", destination_connection_id=destination.id
    )
    with pytest.raises(StoreError, match="is an export pipeline"):
        await store.pipelines.save(
            "p", kind="import", target="users", source_connection_id=source.id
        )


async def test_list_filters_and_set_enabled(store: Store) -> None:
    source, destination = await _connections(store)
    await store.pipelines.save(
        "b-import", kind="import", target="users", source_connection_id=source.id
    )
    await store.pipelines.save(
        "a-export", kind="export", target="users", destination_connection_id=destination.id
    )
    await store.pipelines.save(
        "c-events", kind="events", target="events", destination_connection_id=destination.id
    )
    assert [p.name for p in await store.pipelines.list()] == ["a-export", "b-import", "c-events"]
    assert [p.name for p in await store.pipelines.list(kind="import")] == ["b-import"]
    assert [p.name for p in await store.pipelines.list(connection_id=destination.id)] == [
        "a-export",
        "c-events",
    ]
    disabled = await store.pipelines.set_enabled("a-export", False)
    assert disabled.enabled is False
    assert (await store.pipelines.get("a-export")).enabled is False
    with pytest.raises(NotFound):
        await store.pipelines.set_enabled("missing", True)


async def test_remove_takes_runs_checkpoint_and_identities_along(store: Store) -> None:
    source, _ = await _connections(store)
    pipeline = await store.pipelines.save(
        "contacts", kind="import", target="users", source_connection_id=source.id
    )
    run = await store.runs.start(pipeline.id, owner="w1", full=True)
    await store.runs.checkpoint(
        run.id, owner="w1", cursor="c", high_water=None, seen_record_ids=["1"]
    )
    await store.identities.upsert(pipeline.id, [("a@example.com", "1")])
    await store.pipelines.remove("contacts")
    with pytest.raises(NotFound):
        await store.pipelines.get("contacts")
    with pytest.raises(NotFound):
        await store.runs.get(run.id)
    with pytest.raises(NotFound):
        await store.runs.checkpoint_of(pipeline.id)
    assert await store.identities.lookup(pipeline.id, ["a@example.com"]) == {}
    assert await store.runs.unseen_record_ids(pipeline.id, 99) == []
    with pytest.raises(NotFound):
        await store.pipelines.remove("contacts")
