"""The ``crm-test`` connector: reads and writes contacts of the crm test app (``app.py``).

A real connector in every respect (spec, registration, managed HTTP client,
typed errors, ``RecordsError`` for per-item failures); importing this module
registers it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from syncline.sdk.env import Env, Problem
from syncline.sdk.errors import PermanentError, RecordsError
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.records import Record, Records
from syncline.sdk.registry import connector
from syncline.sdk.spec import (
    ApplicationSpec,
    AsDestination,
    AsSource,
    EndpointGroup,
    RateLimit,
)
from syncline.types import Int, Object, Property, Role, String

CODE = "crm-test"

_ERRORS = {
    "invalid_email": "the app refused the email address",
    "duplicate_email": "another contact already has this email address",
    "not_found": "the contact to update does not exist",
}


class CrmSettings(BaseModel):
    base_url: str
    page_size: int = 500
    batch_limit: int = 100


SPEC = ApplicationSpec(
    code=CODE,
    label="CRM (test app)",
    as_source=AsSource(targets=("users",)),
    as_destination=AsDestination(targets=("users",)),
    endpoint_groups=(
        EndpointGroup(("/contacts",), RateLimit(10_000, burst=1_000)),
        EndpointGroup(("/contacts/",), RateLimit(10_000, burst=1_000)),
    ),
    settings=CrmSettings,
)


@connector(SPEC)
class Crm:
    def __init__(self, env: Env[CrmSettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        settings = await self.env.settings.load()
        await self.env.http.request("GET", f"{settings.base_url}/contacts", params={"limit": 1})
        return []

    async def record_schema(self, target: str, role: Role) -> Object:
        return Object(
            [
                Property("email", String(max_length=254), nullable=True, create_required=True),
                Property("name", String(), nullable=True),
                Property("plan", String(), nullable=True),
                Property("score", Int(), nullable=True),
            ]
        )

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: Object
    ) -> RecordsPage:
        settings = await self.env.settings.load()
        params: dict[str, Any] = {"limit": settings.page_size}
        if updated_at is not None:
            params["since"] = updated_at.isoformat()
        if cursor is not None:
            params["after"] = cursor
        response = await self.env.http.request(
            "GET", f"{settings.base_url}/contacts", params=params
        )
        body = response.json()
        wanted = [p.name for p in schema.properties]
        records = [
            Record(
                row["id"],
                {name: row[name] for name in wanted},
                datetime.fromisoformat(row["updated_at"]),
            )
            for row in body["data"]
        ]
        return RecordsPage(records, body["next"], body["next"] is None)

    async def upsert(self, target: str, records: Records, schema: Object) -> None:
        settings = await self.env.settings.load()
        items = []
        for record in records.all():
            item: dict[str, Any] = {"properties": record.attributes}
            if record.id:
                item["id"] = record.id
            items.append(item)
            if len(items) == settings.batch_limit:
                break
        response = await self.env.http.request(
            "POST", f"{settings.base_url}/contacts/batch", json={"records": items}
        )
        errors = {
            i: PermanentError(_ERRORS.get(result["error"], "the app refused the contact"))
            for i, result in enumerate(response.json()["results"])
            if "error" in result
        }
        if errors:
            raise RecordsError(errors)
