"""open_connector and the settings store handed to connectors, over a real SQLite store."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from test_connections_support import SECRET, SHOP, TABLE, ShopSettings, TableOptions
from test_connections_support import test_connectors as test_connectors

from syncline.engine.connections import OpenConnector, open_connector
from syncline.engine.settings_store import StoredSettings, settings_to_json
from syncline.sdk.errors import ConfigError
from syncline.sdk.testing.server import FaultServer
from syncline.store import NotFound, Store, Workspace, open_store

pytestmark = pytest.mark.usefixtures("test_connectors")


@pytest.fixture
async def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Store]:
    for name in ("SYNCLINE_HOME", "SYNCLINE_DATABASE_URL", "SYNCLINE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    opened = await open_store(workspace=Workspace(tmp_path / "home"))
    try:
        yield opened
    finally:
        await opened.close()


async def shop(
    store: Store,
    url: str = "http://127.0.0.1:9",
    roles: tuple[str, ...] = ("source", "destination"),
) -> None:
    await store.connections.save(
        "shop",
        connector=SHOP,
        roles=roles,  # type: ignore[arg-type]
        settings={"base_url": url, "api_key": SECRET},
    )


async def test_open_connector_builds_a_working_instance(store: Store) -> None:
    async with FaultServer() as server:
        server.route("GET", "/me", lambda request: {"ok": True})
        await shop(store, server.url)
        connection = await store.connections.get("shop")
        for key in ("shop", str(connection.id)):
            async with await open_connector(store, key, role="source") as opened:
                assert isinstance(opened, OpenConnector)
                assert opened.registered.spec.code == SHOP
                assert opened.connection.name == "shop"
                assert opened.instance.env.connection == "shop"
                assert opened.instance.env.options is None
                assert await opened.instance.check() == []
        request = server.requests("/me")[-1]
        assert request.header("authorization") == f"Bearer {SECRET}"


async def test_open_connector_refusals(store: Store) -> None:
    with pytest.raises(NotFound):
        await open_connector(store, "nope")
    await shop(store, roles=("destination",))
    with pytest.raises(ConfigError, match="not configured as a source"):
        await open_connector(store, "shop", role="source")
    with pytest.raises(ConfigError, match="takes no pipeline options"):
        await open_connector(store, "shop", options={"table": "x"})
    await store.connections.save(
        "files", connector=TABLE, roles=["source"], settings={"directory": "/x"}
    )
    with pytest.raises(ConfigError, match="not configured as a destination"):
        await open_connector(store, "files", role="destination")
    with pytest.raises(ConfigError) as caught:
        await open_connector(store, "files", options={"key": "id"})
    assert caught.value.field == "options.table"
    opened = await open_connector(store, "files", options={"table": "t"})
    assert opened.options == TableOptions(table="t")
    await opened.aclose()
    await store.connections.save("gone", connector="not-installed", roles=["source"])
    with pytest.raises(ConfigError, match="not installed"):
        await open_connector(store, "gone")


async def test_invalid_stored_settings_name_the_field(store: Store) -> None:
    await store.connections.save(
        "shop",
        connector=SHOP,
        roles=["source"],
        settings={"base_url": "http://x", "api_key": SECRET, "region": "mars"},
    )
    with pytest.raises(ConfigError) as caught:
        await open_connector(store, "shop")
    assert caught.value.field == "region"
    assert SECRET not in str(caught.value) and "mars" not in str(caught.value)


async def test_store_merges_with_a_concurrent_writer(store: Store) -> None:
    """A rotated secret written by one holder survives another holder's stale write."""
    await shop(store)
    connection = await store.connections.get("shop")
    rotating = StoredSettings(store, connection, ShopSettings)
    editing = StoredSettings(store, connection, ShopSettings)
    a = await rotating.load()
    b = await editing.load()
    await rotating.store(a.model_copy(update={"api_key": SecretStr("sk_rotated_000000000001")}))
    # ``editing`` loaded before the rotation and changes only the region.
    await editing.store(b.model_copy(update={"region": "us"}))
    final = await StoredSettings(store, connection, ShopSettings).load()
    assert final.api_key.get_secret_value() == "sk_rotated_000000000001"
    assert final.region == "us"


async def test_concurrent_rotations_all_land(store: Store) -> None:
    await shop(store)
    connection = await store.connections.get("shop")

    async def bump(i: int) -> None:
        holder = StoredSettings(store, connection, ShopSettings)
        current = await holder.load()
        await holder.store(current.model_copy(update={"base_url": f"http://host{i}"}))

    await asyncio.gather(*(bump(i) for i in range(8)))
    stored = await store.connections.load_settings(connection.id)
    assert stored.version == 1 + 8
    assert stored.values["api_key"] == SECRET


def test_settings_to_json_reveals_secrets_for_encryption() -> None:
    settings = ShopSettings(base_url="http://x", api_key=SecretStr(SECRET))
    assert settings_to_json(settings) == {"base_url": "http://x", "api_key": SECRET, "region": "eu"}


async def test_sqlite_connector_check_reports_a_missing_file(store: Store, tmp_path: Path) -> None:
    import syncline.connectors.sqlite  # noqa: F401  (registers the connector)

    path = tmp_path / "warehouse.db"
    await store.connections.save(
        "warehouse",
        connector="sqlite",
        roles=["source", "destination"],
        settings={"path": str(path)},
    )
    async with await open_connector(store, "warehouse") as opened:
        problems = await opened.instance.check()
    assert [p.field for p in problems] == ["path"]
    sqlite3.connect(path).close()
    async with await open_connector(store, "warehouse") as opened:
        assert await opened.instance.check() == []
