"""StoredSettings serves recent settings without a read, and sees other writers' changes.

A second store opened on the same workspace plays another process; a manual
clock stands in for time, so nothing here depends on the machine's speed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from syncline.engine.settings_store import FRESH_FOR, StoredSettings
from syncline.http.oauth import OAuthSettings
from syncline.store import Store, Workspace, open_store


class Plain(BaseModel):
    base_url: str
    page_size: int = 100
    tags: list[str] = []
    extra: dict[str, list[int]] = {}


class WithOAuth(BaseModel):
    base_url: str
    oauth: OAuthSettings | None = None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Store, Store]]:
    for name in ("SYNCLINE_HOME", "SYNCLINE_DATABASE_URL", "SYNCLINE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    workspace = Workspace(tmp_path / "home")
    ours = await open_store(workspace=workspace)
    theirs = await open_store(workspace=workspace)
    try:
        await ours.connections.save(
            "api",
            connector="bench-api",
            roles=["source"],
            settings={"base_url": "http://one", "tags": ["a"], "extra": {"k": [1]}},
        )
        yield ours, theirs
    finally:
        await theirs.close()
        await ours.close()


async def _set(store: Store, **changes: object) -> None:
    connection = await store.connections.get("api")
    await store.connections.update_settings(connection.id, lambda current: {**current, **changes})


async def test_another_writers_change_is_seen_within_fresh_for(stores: tuple[Store, Store]) -> None:
    ours, theirs = stores
    clock = Clock()
    settings = StoredSettings(ours, await ours.connections.get("api"), Plain, clock=clock)
    assert (await settings.load()).base_url == "http://one"
    await _set(theirs, base_url="http://two")
    clock.now += FRESH_FOR / 2
    # Within the bound the settings read a moment ago are served without a read.
    assert (await settings.load()).base_url == "http://one"
    clock.now += FRESH_FOR / 2
    assert (await settings.load()).base_url == "http://two"
    # A fresh holder (a newly opened connector) always reads.
    fresh = StoredSettings(ours, await ours.connections.get("api"), Plain, clock=clock)
    await _set(theirs, base_url="http://three")
    assert (await fresh.load()).base_url == "http://three"


async def test_own_store_is_seen_at_once_with_the_other_writers_fields(
    stores: tuple[Store, Store],
) -> None:
    ours, theirs = stores
    clock = Clock()
    settings = StoredSettings(ours, await ours.connections.get("api"), Plain, clock=clock)
    loaded = await settings.load()
    await _set(theirs, base_url="http://two")
    await settings.store(loaded.model_copy(update={"page_size": 7}))
    # No time passed: what was written, merged onto the other writer's change.
    again = await settings.load()
    assert (again.base_url, again.page_size) == ("http://two", 7)
    stored = await theirs.connections.load_settings((await theirs.connections.get("api")).id)
    assert (stored.values["base_url"], stored.values["page_size"]) == ("http://two", 7)


async def test_loaded_models_are_independent_of_the_cache(stores: tuple[Store, Store]) -> None:
    ours, _ = stores
    settings = StoredSettings(ours, await ours.connections.get("api"), Plain, clock=Clock())
    first = await settings.load()
    first.tags.append("mutated")
    first.extra["k"].append(2)
    first.page_size = 5
    second = await settings.load()
    assert (second.tags, second.extra, second.page_size) == (["a"], {"k": [1]}, 100)
    assert second is not first


async def test_settings_with_oauth_are_read_every_time(stores: tuple[Store, Store]) -> None:
    ours, theirs = stores
    clock = Clock()
    settings = StoredSettings(ours, await ours.connections.get("api"), WithOAuth, clock=clock)
    assert (await settings.load()).oauth is None
    await _set(theirs, oauth={"client_id": "c", "refresh_token": "rotated"})
    fresh = await settings.load()
    assert fresh.oauth is not None and fresh.oauth.refresh_token is not None
    assert fresh.oauth.refresh_token.get_secret_value() == "rotated"
