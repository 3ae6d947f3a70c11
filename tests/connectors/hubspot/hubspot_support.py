"""Shared by the HubSpot tests: a connector on a real managed client against a sandbox."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from syncline.connectors.hubspot import SPEC, HubSpot, HubSpotSettings
from syncline.connectors.hubspot.sandbox import HubSpotSandbox
from syncline.http import Client
from syncline.sdk import Env, RateLimit, Record, Role
from syncline.sdk.spec import ApplicationSpec
from syncline.sdk.testing import MemorySettings

# The spec with HubSpot's limits lifted, for tests whose subject is not the
# limits: the same groups, patterns and retry policies, a high rate.
FAST = dataclasses.replace(
    SPEC,
    endpoint_groups=tuple(
        dataclasses.replace(g, rate_limit=RateLimit(10_000, burst=1_000))
        for g in SPEC.endpoint_groups
    ),
)


@asynccontextmanager
async def connected(
    sandbox: HubSpotSandbox, spec: ApplicationSpec = FAST, **settings: Any
) -> AsyncIterator[tuple[HubSpot, Client]]:
    """A HubSpot instance on its own client, against the started ``sandbox``."""
    store = MemorySettings(HubSpotSettings(**{**sandbox.settings(), **settings}))
    async with Client(spec, store) as http:
        await http.load_secrets()
        yield HubSpot(Env(settings=store, http=http)), http


async def read_all(
    hubspot: HubSpot, target: str, updated_at: datetime | None = None, cursor: str | None = None
) -> tuple[list[Record], list[str | None]]:
    """Every record of a read and the cursors it went through."""
    schema = await hubspot.record_schema(target, Role.SOURCE)
    records: list[Record] = []
    cursors: list[str | None] = []
    for _ in range(10_000):
        page = await hubspot.records(target, updated_at, cursor, schema)
        records += page.records
        if page.done:
            return records, cursors
        cursor = page.cursor
        cursors.append(cursor)
    raise AssertionError("the read never ended")


__all__ = ["FAST", "connected", "read_all"]
