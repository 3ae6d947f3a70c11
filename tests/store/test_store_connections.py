from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from syncline.store import (
    ConnectionInUse,
    NotFound,
    SettingsConflict,
    Store,
    StoreError,
)

if TYPE_CHECKING:
    from conftest import FakeClock


async def test_save_creates_then_updates_by_name(store: Store, clock: FakeClock) -> None:
    created = await store.connections.save(
        "crm", connector="hubspot", roles=["source"], settings={"token": "t1"}
    )
    assert created.name == "crm"
    assert created.connector == "hubspot"
    assert created.roles == frozenset({"source"})
    assert created.settings_version == 1
    assert created.oauth_account is None
    assert created.created_at == created.updated_at == clock.now

    clock.advance(minutes=5)
    updated = await store.connections.save(
        "crm",
        connector="hubspot",
        roles=["source", "destination"],
        settings={"token": "t2"},
        oauth_account="portal-42",
    )
    assert updated.id == created.id
    assert updated.roles == frozenset({"source", "destination"})
    assert updated.oauth_account == "portal-42"
    assert updated.settings_version == 2
    assert updated.created_at == created.created_at
    assert updated.updated_at == clock.now
    assert (await store.connections.load_settings(created.id)).values == {"token": "t2"}


async def test_save_without_settings_keeps_them(store: Store) -> None:
    created = await store.connections.save(
        "crm", connector="hubspot", roles=["source"], settings={"token": "t1"}
    )
    again = await store.connections.save("crm", connector="hubspot", roles=["source"])
    assert again.settings_version == created.settings_version
    assert (await store.connections.load_settings(created.id)).values == {"token": "t1"}
    empty = await store.connections.save("other", connector="klaviyo", roles=["destination"])
    assert (await store.connections.load_settings(empty.id)).values == {}


async def test_save_refuses_another_connector_and_bad_roles(store: Store) -> None:
    await store.connections.save("crm", connector="hubspot", roles=["source"])
    with pytest.raises(StoreError, match="uses connector 'hubspot'"):
        await store.connections.save("crm", connector="klaviyo", roles=["source"])
    with pytest.raises(ValueError, match="roles"):
        await store.connections.save("x", connector="hubspot", roles=[])
    with pytest.raises(ValueError, match="roles"):
        await store.connections.save("x", connector="hubspot", roles=["both"])  # type: ignore[list-item]


async def test_get_list_and_remove(store: Store) -> None:
    b = await store.connections.save("b", connector="stripe", roles=["source"])
    a = await store.connections.save("a", connector="klaviyo", roles=["destination"])
    assert await store.connections.get("a") == a
    assert await store.connections.get_by_id(b.id) == b
    assert [c.name for c in await store.connections.list()] == ["a", "b"]
    await store.connections.remove("a")
    assert [c.name for c in await store.connections.list()] == ["b"]
    with pytest.raises(NotFound, match="'a'"):
        await store.connections.get("a")
    with pytest.raises(NotFound):
        await store.connections.get_by_id(a.id)
    with pytest.raises(NotFound):
        await store.connections.remove("a")
    with pytest.raises(NotFound):
        await store.connections.load_settings(a.id)
    with pytest.raises(NotFound):
        await store.connections.store_settings(a.id, {})


async def test_remove_refuses_while_pipelines_use_it(store: Store) -> None:
    source = await store.connections.save("src", connector="hubspot", roles=["source"])
    await store.pipelines.save(
        "contacts", kind="import", target="users", source_connection_id=source.id
    )
    with pytest.raises(ConnectionInUse, match="contacts"):
        await store.connections.remove("src")
    await store.pipelines.remove("contacts")
    await store.connections.remove("src")


async def test_compare_and_swap_settings(store: Store) -> None:
    c = await store.connections.save(
        "crm", connector="hubspot", roles=["source"], settings={"refresh_token": "r1"}
    )
    loaded = await store.connections.load_settings(c.id)
    assert loaded.version == 1
    v2 = await store.connections.store_settings(
        c.id, {"refresh_token": "r2"}, expected_version=loaded.version
    )
    assert v2 == 2
    # A writer still holding version 1 loses and changes nothing.
    with pytest.raises(SettingsConflict, match="'crm'"):
        await store.connections.store_settings(c.id, {"refresh_token": "stale"}, expected_version=1)
    assert (await store.connections.load_settings(c.id)).values == {"refresh_token": "r2"}
    # Without an expected version the write always wins.
    assert await store.connections.store_settings(c.id, {"refresh_token": "r3"}) == 3
    assert (await store.connections.get("crm")).settings_version == 3


async def test_update_settings_applies_every_concurrent_change(store: Store) -> None:
    c = await store.connections.save(
        "crm", connector="hubspot", roles=["source"], settings={"n": 0}
    )

    def increment(values: dict[str, int]) -> dict[str, int]:
        return {"n": values["n"] + 1}

    results = await asyncio.gather(
        *(store.connections.update_settings(c.id, increment, attempts=50) for _ in range(8))
    )
    final = await store.connections.load_settings(c.id)
    assert final.values == {"n": 8}
    assert final.version == 9
    assert sorted(r.values["n"] for r in results) == list(range(1, 9))
