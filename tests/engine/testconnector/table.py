"""The ``table-test`` destination: merges records into a JSON file on their ID, and deletes.

A real connector (spec, registration, settings) for the engine's purge: the
database and file connectors merge on a key too, and this one also implements
the optional ``delete(target, ids)`` hook the engine calls for purge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from syncline.sdk.env import Env, Problem
from syncline.sdk.records import Records
from syncline.sdk.registry import connector
from syncline.sdk.spec import ANY_TARGET, ApplicationSpec, AsDestination, Category, SendingMode
from syncline.types import Object, Role


class TableSettings(BaseModel):
    path: str


SPEC = ApplicationSpec(
    code="table-test",
    label="Table (test destination)",
    categories=(Category.TESTING,),
    as_destination=AsDestination(targets=(ANY_TARGET,), sending_mode=SendingMode.NONE),
    settings=TableSettings,
)


def read_table(path: Path) -> dict[str, Any]:
    return orjson.loads(path.read_bytes()) if path.exists() else {}


@connector(SPEC)
class Table:
    def __init__(self, env: Env[TableSettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        return []

    async def record_schema(self, target: str, role: Role) -> Object:
        return Object([])

    async def _path(self) -> Path:
        return Path((await self.env.settings.load()).path)

    async def upsert(self, target: str, records: Records, schema: Object) -> None:
        path = await self._path()
        table = read_table(path)
        for record in records.all():
            table[record.id] = record.attributes
        path.write_bytes(orjson.dumps(table))

    async def delete(self, target: str, ids: list[str]) -> None:
        path = await self._path()
        table = read_table(path)
        for record_id in ids:
            table.pop(record_id, None)
        path.write_bytes(orjson.dumps(table))
