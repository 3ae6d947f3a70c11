"""The "Acme CRM" connector of docs/writing-a-connector.md, as a package with a sandbox.

Registered as ``kit-acme`` so that it never collides with the docs' own
``acme-crm``, which the docs test registers in the same process.

It reads contacts page by page (incrementally with ``updated_since``), upserts
them in batches with per-item results (a 207 multi-status when some fail), and
sends events as NDJSON, discarding what Acme would refuse and packing each
request up to Acme's size limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, Field, SecretStr

from syncline import types as t
from syncline.sdk import (
    ApplicationSpec,
    AsDestination,
    AsSource,
    EndpointGroup,
    Env,
    Event,
    Events,
    EventsError,
    EventType,
    PermanentError,
    Problem,
    RateLimit,
    Record,
    Records,
    RecordsError,
    RecordsPage,
    Role,
    Terms,
    connector,
)


class AcmeSettings(BaseModel):
    api_key: SecretStr = Field(description="API key from Acme's settings page")
    base_url: str = "https://api.acme.example"


def acme_spec(code: str = "kit-acme", label: str = "Acme CRM (kit reference)") -> ApplicationSpec:
    return ApplicationSpec(
        code=code,
        label=label,
        as_source=AsSource(targets=("users",), summary="Import contacts as users"),
        as_destination=AsDestination(
            targets=("users", "events"), summary="Export users as contacts and send events"
        ),
        terms=Terms(user="Contact", users="Contacts", user_id="Contact ID"),
        settings=AcmeSettings,
        endpoint_groups=(
            # Acme publishes 10 requests/s (bursts of 20) and 2 event requests/s;
            # declared a little under, so jitter on the way never crosses them.
            EndpointGroup(patterns=("/v1/",), rate_limit=RateLimit(8, burst=15)),
            EndpointGroup(patterns=("POST /v1/events",), rate_limit=RateLimit(1.5, burst=2)),
        ),
    )


SPEC = acme_spec()

SCHEMA = t.Object(
    [
        t.Property("email", t.String(max_length=254), create_required=True),
        t.Property("first_name", t.String(max_length=100), nullable=True),
        t.Property("plan", t.String(values=["free", "pro"]), nullable=True),
    ]
)

PAGE_SIZE = 10
MAX_BATCH = 100  # contacts per upsert request
MAX_BODY = 64 * 1024  # bytes per event request
MAX_EVENT_NAME = 64  # Acme refuses longer event names


class AcmeBase:
    """The Acme connector's code, registered below as AcmeCRM (and broken on purpose in tests)."""

    def __init__(self, env: Env[AcmeSettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        settings = await self.env.settings.load()
        response = await self.env.http.request(
            "GET", f"{settings.base_url}/v1/me", headers=self._auth(settings), accept=(401,)
        )
        if response.status_code == 401:
            return [Problem("Acme refused the API key; create a new one", field="api_key")]
        return []

    async def record_schema(self, target: str, role: Role) -> t.Object:
        return t.as_role(SCHEMA, role)

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: t.Object
    ) -> RecordsPage:
        settings = await self.env.settings.load()
        params: dict[str, Any] = {"limit": PAGE_SIZE, "cursor": cursor or ""}
        if updated_at is not None:
            params["updated_since"] = updated_at.isoformat()
        response = await self.env.http.request(
            "GET", f"{settings.base_url}/v1/contacts", params=params, headers=self._auth(settings)
        )
        try:
            page = response.json()
            records = [self._record(item, schema) for item in page["contacts"]]
        except (ValueError, KeyError, TypeError):
            raise PermanentError("Acme answered the contact list with an unexpected body") from None
        return RecordsPage(records, cursor=page["next"], done=page["next"] is None)

    def _record(self, item: dict[str, Any], schema: t.Object) -> Record:
        return Record(
            id=str(item["id"]),
            attributes={name: item.get(name) for name in schema.names()},
            updated_at=datetime.fromisoformat(item["updated_at"]),  # the app's, never now()
        )

    async def upsert(self, target: str, records: Records, schema: t.Object) -> None:
        settings = await self.env.settings.load()
        batch = []
        for record in records.all():
            batch.append({"id": record.id or None, **record.attributes})
            if len(batch) == MAX_BATCH:
                break
        response = await self.env.http.request(
            "POST",
            f"{settings.base_url}/v1/contacts/batch",
            json={"contacts": batch},
            headers=self._auth(settings),
            idempotency_key=True,  # Acme merges on email: replaying is safe
        )
        failed = self._failures(response)
        if failed:
            raise RecordsError(failed)

    def _failures(self, response: httpx.Response) -> dict[int, Exception]:
        # 200: all written; 207: per-item results, some failed.
        if response.status_code != 207:
            return {}
        return {
            item["index"]: PermanentError(f"Acme refused the value of {item['field']!r}")
            for item in response.json()["results"]
            if item["error"] is not None
        }

    async def event_types(self) -> list[EventType]:
        return [EventType("track", "Track", "Send track events", "type is 'track'")]

    async def event_type_schema(self, type_id: str) -> t.Object | None:
        if type_id != "track":
            raise PermanentError(f"unknown event type {type_id!r}")
        return None

    async def send_events(self, events: Events) -> None:
        settings = await self.env.settings.load()
        request = self._events_request(settings, events, preview=False)
        if request is None:
            return
        response = await self.env.http.send(request)
        rejected = response.json().get("rejected", {})
        if rejected:
            raise EventsError({int(i): PermanentError(m) for i, m in rejected.items()})

    async def preview_send_events(self, events: Events) -> httpx.Request | None:
        settings = await self.env.settings.load()
        request = self._events_request(settings, events, preview=True)
        return None if request is None else self.env.http.preview(request)

    def _line(self, event: Event, preview: bool) -> bytes:
        received = event.received
        pipeline = "[PIPELINE]" if preview else event.pipeline
        return orjson.dumps(
            {
                "id": f"{pipeline}/{event.idempotency_key}",
                "event": received.event,
                "user": received.user_id or received.anonymous_id,
                "properties": received.properties,
            }
        )

    def _events_request(
        self, settings: AcmeSettings, events: Events, *, preview: bool
    ) -> httpx.Request | None:
        # One code path for send and preview: encode, measure, postpone what
        # does not fit (never the first event: one too big alone is discarded).
        lines: list[bytes] = []
        size = 0
        for event in events.all():
            if len(event.received.event or "") > MAX_EVENT_NAME:
                events.discard(PermanentError("the event name is longer than 64 characters"))
                continue
            line = self._line(event, preview)
            if len(line) + 1 > MAX_BODY:
                events.discard(PermanentError("the event is larger than Acme's 64 KiB limit"))
                continue
            if size + len(line) + 1 > MAX_BODY:
                events.postpone()
                break
            lines.append(line)
            size += len(line) + 1
        return self._build(settings, lines)

    def _build(self, settings: AcmeSettings, lines: list[bytes]) -> httpx.Request | None:
        if not lines:
            return None
        return self.env.http.build_request(
            "POST",
            f"{settings.base_url}/v1/events",
            content=b"\n".join(lines),
            headers=self._auth(settings),
            idempotency_key=True,  # Acme dedupes on "id"
        )

    @staticmethod
    def _auth(settings: AcmeSettings) -> dict[str, str]:
        return {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}


@connector(SPEC)
class AcmeCRM(AcmeBase):
    """Acme CRM: contacts in and out, events out."""
