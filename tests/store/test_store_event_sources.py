from __future__ import annotations

import pytest

from syncline.store import NameTaken, NotFound, Store


async def test_create_lookup_by_key_rotate_remove(store: Store) -> None:
    source, key = await store.event_sources.create("website")
    assert len(key) >= 40
    assert source.write_key_prefix == key[:8]
    assert await store.event_sources.by_write_key(key) == source
    assert await store.event_sources.by_write_key(key + "x") is None
    assert await store.event_sources.get("website") == source

    rotated, new_key = await store.event_sources.rotate_write_key("website")
    assert new_key != key
    assert rotated.id == source.id
    assert await store.event_sources.by_write_key(key) is None
    assert await store.event_sources.by_write_key(new_key) == rotated

    await store.event_sources.create("app", write_key="client-chosen-key-0123")
    assert [s.name for s in await store.event_sources.list()] == ["app", "website"]
    await store.event_sources.remove("website")
    assert await store.event_sources.by_write_key(new_key) is None
    with pytest.raises(NotFound):
        await store.event_sources.get("website")
    with pytest.raises(NotFound):
        await store.event_sources.remove("website")
    with pytest.raises(NotFound):
        await store.event_sources.rotate_write_key("website")


async def test_names_and_keys_are_unique_and_keys_not_stored(store: Store) -> None:
    _, key = await store.event_sources.create("website")
    with pytest.raises(NameTaken, match="'website'"):
        await store.event_sources.create("website")
    with pytest.raises(NameTaken):
        await store.event_sources.create("copy", write_key=key)
    with pytest.raises(ValueError, match="16 characters"):
        await store.event_sources.create("short", write_key="abc")

    import sqlalchemy as sa

    from syncline.store.schema import event_sources

    async with store.database.read() as conn:
        rows = (await conn.execute(sa.select(event_sources))).all()
    assert all(key not in str(tuple(row)) for row in rows)
