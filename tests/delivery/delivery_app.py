"""A destination connector for delivery tests, over a real local HTTP server.

``events-test`` sends each ``send_events`` call as ONE ``POST {base_url}/events``
with a JSON body ``{"events": [...]}`` (at most ``max_batch`` events per
request). The app answers ``200`` with an optional ``{"rejected": {"INDEX":
"retry" | "reject"}}``: ``retry`` becomes a ``RetryableError`` for that event,
``reject`` a ``PermanentError``. An event whose properties hold
``"discard": true`` is discarded before sending. The managed client does not
retry (``max_attempts=1``): every retry the tests see is the delivery engine's.

``events-test-limited`` is the same connector with an endpoint group limited
to ``LIMITED_RATE`` requests per second.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel, SecretStr

from syncline import types as t
from syncline.sdk import (
    ApplicationSpec,
    AsDestination,
    EndpointGroup,
    Env,
    Events,
    EventsError,
    EventType,
    PermanentError,
    Problem,
    RateLimit,
    RetryableError,
    RetryAfter,
    RetryPolicy,
    Timeouts,
    register,
)

LIMITED_RATE = 20.0

TRACK_SCHEMA = t.Object(
    [
        t.Property("event", t.String(max_length=100), create_required=True, prefilled="event"),
        t.Property("price", t.Float(), nullable=True, prefilled="properties.price"),
        t.Property("email", t.String(max_length=60), nullable=True),
    ]
)


class EventsTestSettings(BaseModel):
    base_url: str
    api_key: SecretStr
    max_batch: int = 100


def _spec(code: str, rate: float, burst: int) -> ApplicationSpec:
    return ApplicationSpec(
        code=code,
        label="Events test app",
        as_destination=AsDestination(targets=("events",), summary="Receives events"),
        settings=EventsTestSettings,
        endpoint_groups=(
            EndpointGroup(
                patterns=("/",),
                rate_limit=RateLimit(rate, burst=burst),
                retry=RetryPolicy(rules={429: RetryAfter()}, max_attempts=1, deadline=30),
                timeouts=Timeouts(connect=1.0, read=0.5, total=0.5),
            ),
        ),
    )


class EventsTestApp:
    def __init__(self, env: Env[EventsTestSettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        return []

    async def event_types(self) -> list[EventType]:
        return [
            EventType("track", "Track", "Track calls", default_filter="type = 'track'"),
            EventType("any", "Any", "Every message, no values"),
        ]

    async def event_type_schema(self, type_id: str) -> t.Object | None:
        if type_id == "track":
            return TRACK_SCHEMA
        if type_id == "any":
            return None
        raise PermanentError(f"unknown event type {type_id!r}")

    async def send_events(self, events: Events) -> None:
        request = await self._request(events, preview=False)
        if request is None:
            return
        response = await self.env.http.send(request)
        rejected = response.json().get("rejected") or {}
        if rejected:
            raise EventsError(
                {
                    int(index): RetryableError("the app asked to retry this event")
                    if kind == "retry"
                    else PermanentError("the app rejected this event")
                    for index, kind in rejected.items()
                }
            )

    async def preview_send_events(self, events: Events) -> httpx.Request | None:
        request = await self._request(events, preview=True)
        return None if request is None else self.env.http.preview(request)

    async def _request(self, events: Events, *, preview: bool) -> httpx.Request | None:
        settings = await self.env.settings.load()
        body = []
        for event in events.all():
            received = event.received
            if (received.properties or {}).get("discard"):
                events.discard(PermanentError("the event asks to be discarded"))
                continue
            pipeline = "[PIPELINE]" if preview else event.pipeline
            body.append(
                {
                    "id": f"{pipeline}/{event.idempotency_key}",
                    "message_id": event.idempotency_key,
                    "user": received.anonymous_id or received.user_id,
                    "type": received.type,
                    "values": event.type.values,
                }
            )
            if len(body) >= settings.max_batch:
                break
        if not body:
            return None
        return self.env.http.build_request(
            "POST",
            f"{settings.base_url}/events",
            json={"events": body},
            headers={"Authorization": f"Bearer {settings.api_key.get_secret_value()}"},
        )


register(_spec("events-test", 100_000, 10_000), EventsTestApp)


class EventsTestLimited(EventsTestApp):
    pass


register(_spec("events-test-limited", LIMITED_RATE, 1), EventsTestLimited)
