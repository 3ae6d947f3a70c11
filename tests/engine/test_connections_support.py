"""Two small connectors for the configuration and connection tests, and their fixtures.

* ``cfgtest-shop`` — an app: users in and out, events out, over real HTTP to a
  local server; ``check()`` calls ``GET /me`` with the API key.
* ``cfgtest-table`` — a file-backed "database": any target, a pipeline option
  ``table``; the schema of table T is the list of names in ``DIR/T.schema.json``.

They are registered for a test by the ``test_connectors`` fixture (and
unregistered after), like a plugin, through the public registry.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from syncline import types as t
from syncline.http.oauth import OAuthSettings
from syncline.sdk import registry
from syncline.sdk.env import Env, Problem
from syncline.sdk.errors import ConfigError
from syncline.sdk.events import EventType
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.spec import (
    ANY_TARGET,
    ApplicationSpec,
    AsDestination,
    AsSource,
    Category,
    EndpointGroup,
    OAuthSpec,
    RateLimit,
)

SHOP = "cfgtest-shop"
TABLE = "cfgtest-table"
SECRET = "sk_live_9f8e7d6c5b4a39281706"


class ShopSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str
    api_key: SecretStr
    region: Literal["eu", "us"] = "eu"


SHOP_SPEC = ApplicationSpec(
    code=SHOP,
    label="Config test shop",
    as_source=AsSource(targets=("users",)),
    as_destination=AsDestination(targets=("users", "events")),
    endpoint_groups=(EndpointGroup(("/",), RateLimit(requests_per_second=100, burst=10)),),
    settings=ShopSettings,
)

SHOP_SCHEMA = t.Object(
    [
        t.Property("email", t.String()),
        t.Property("name", t.String(), nullable=True),
        t.Property("plan", t.String(), nullable=True),
    ]
)


class Shop:
    def __init__(self, env: Env[ShopSettings]) -> None:
        self.env = env

    async def _get(self, path: str, accept: tuple[int, ...] = ()) -> Any:
        settings = await self.env.settings.load()
        return await self.env.http.request(
            "GET",
            settings.base_url.rstrip("/") + path,
            headers={"Authorization": f"Bearer {settings.api_key.get_secret_value()}"},
            accept=accept,
        )

    async def record_schema(self, target: str, role: t.Role) -> t.Object:
        await self._get("/schema")
        return SHOP_SCHEMA

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: t.Object
    ) -> RecordsPage:
        return RecordsPage([], None, True)

    async def upsert(self, target: str, records: Any, schema: t.Object) -> None:
        for _ in records.all():
            pass

    async def event_types(self) -> list[EventType]:
        return [EventType("track", "Track")]

    async def event_type_schema(self, type_id: str) -> t.Object | None:
        return None

    async def send_events(self, events: Any) -> None:
        for _ in events.all():
            pass

    async def preview_send_events(self, events: Any) -> Any:
        return None

    async def check(self) -> list[Problem]:
        response = await self._get("/me", accept=(401,))
        if response.status_code == 401:
            return [Problem("the API key was refused; create a new key in the shop", "api_key")]
        return []


class TableSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    directory: str


class TableOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: str
    key: str = "id"


TABLE_SPEC = ApplicationSpec(
    code=TABLE,
    label="Config test table",
    categories=(Category.DATABASE,),
    as_source=AsSource(targets=(ANY_TARGET,)),
    as_destination=AsDestination(targets=(ANY_TARGET,)),
    settings=TableSettings,
    pipeline_options=TableOptions,
)


class Table:
    def __init__(self, env: Env[TableSettings]) -> None:
        self.env = env

    async def record_schema(self, target: str, role: t.Role) -> t.Object:
        settings = await self.env.settings.load()
        assert isinstance(self.env.options, TableOptions)
        path = Path(settings.directory) / f"{self.env.options.table}.schema.json"
        if not await asyncio.to_thread(path.exists):
            raise ConfigError("the table does not exist", field="table")
        names = json.loads(await asyncio.to_thread(path.read_text))
        return t.Object([t.Property(name, t.String(), nullable=True) for name in names])

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: t.Object
    ) -> RecordsPage:
        return RecordsPage([], None, True)

    async def upsert(self, target: str, records: Any, schema: t.Object) -> None:
        for _ in records.all():
            pass

    async def check(self) -> list[Problem]:
        settings = await self.env.settings.load()
        if not await asyncio.to_thread(Path(settings.directory).is_dir):
            return [Problem("the directory does not exist; create it", "directory")]
        return []


def make_table(directory: Path, name: str, columns: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.schema.json").write_text(json.dumps(columns))


@pytest.fixture
def test_connectors() -> Iterator[None]:
    registry.register(SHOP_SPEC, Shop)
    registry.register(TABLE_SPEC, Table)
    try:
        yield
    finally:
        registry.unregister(SHOP)
        registry.unregister(TABLE)


class OAuthAppSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    oauth: OAuthSettings


OAUTH_SPEC = ApplicationSpec(
    code="cfgtest-oauth",
    label="Config test OAuth app",
    as_source=AsSource(targets=("users",)),
    oauth=OAuthSpec(auth_url="http://127.0.0.1:9/auth", token_url="http://127.0.0.1:9/token"),
    endpoint_groups=(
        EndpointGroup(("/",), RateLimit(requests_per_second=10), requires_oauth=True),
    ),
    settings=OAuthAppSettings,
)


class OAuthApp:
    def __init__(self, env: Env[OAuthAppSettings]) -> None:
        self.env = env

    async def record_schema(self, target: str, role: t.Role) -> t.Object:
        raise AssertionError("not called")

    async def records(self, target: str, updated_at: Any, cursor: Any, schema: t.Object) -> Any:
        raise AssertionError("not called")

    async def check(self) -> list[Any]:
        return []

    async def oauth_account(self) -> str:
        return "acct"


@contextmanager
def oauth_connector() -> Iterator[None]:
    """Register ``cfgtest-oauth`` (settings with an ``oauth`` field) for the block."""
    registry.register(OAUTH_SPEC, OAuthApp)
    try:
        yield
    finally:
        registry.unregister(OAUTH_SPEC.code)
