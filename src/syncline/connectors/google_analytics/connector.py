"""Google Analytics 4 as a destination of ``events`` (Measurement Protocol).

What the connector relies on, from GA4's public Measurement Protocol docs:

* ``POST /mp/collect?measurement_id=…&api_secret=…`` with a JSON body
  ``{"client_id", "user_id"?, "events": [{"name", "params", "timestamp_micros"?}]}``;
  the API secret is a credential in the query string (previews and logs
  redact it);
* one request describes one client (``client_id``) and optionally one user
  (``user_id``): at most 25 events and a body smaller than 130 kB;
* ``/mp/collect`` answers 2xx even for events it drops, so every rule is
  checked here before sending (see :mod:`._rules`);
* ``POST /debug/mp/collect`` takes the same request, stores nothing and
  answers ``{"validationMessages": [{"fieldPath", "description",
  "validationCode"}]}``.

Mapping: ``client_id`` is the message's anonymousId, ``user_id`` its userId,
each event's ``timestamp_micros`` its timestamp. The ``custom`` type sends
the message's ``event`` (white space turned into ``_``: see
:func:`custom_event_name`) with its properties as parameters; the recommended
types send their fixed name with the pipeline's values.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from pydantic import BaseModel, Field, SecretStr

from syncline import types as t
from syncline.connectors.google_analytics._rules import (
    MAX_BODY,
    MAX_EVENTS,
    event_problem,
    params_problem,
)
from syncline.connectors.google_analytics._types import CUSTOM, EVENT_TYPES, SCHEMAS
from syncline.sdk import (
    ApplicationSpec,
    AsDestination,
    ConnectorError,
    EndpointGroup,
    Env,
    Event,
    Events,
    EventType,
    PermanentError,
    Problem,
    RateLimit,
    connector,
)

__all__ = [
    "SPEC",
    "GoogleAnalytics",
    "GoogleAnalyticsSettings",
    "custom_event_name",
    "encode_event",
]


class GoogleAnalyticsSettings(BaseModel):
    """Settings of a GA4 web data stream."""

    measurement_id: str = Field(
        description="Measurement ID (G-XXXXXXXXXX), Admin > Data streams > your stream",
        min_length=1,
    )
    api_secret: SecretStr = Field(
        description="Measurement Protocol API secret, Admin > Data streams > your stream"
    )
    base_url: str = Field(
        "https://www.google-analytics.com", description="API root (a sandbox, a proxy)"
    )

    @property
    def root(self) -> str:
        return self.base_url.rstrip("/")


SPEC = ApplicationSpec(
    code="google-analytics",
    label="Google Analytics 4",
    as_destination=AsDestination(
        targets=("events",), summary="Send events through the GA4 Measurement Protocol"
    ),
    settings=GoogleAnalyticsSettings,
    endpoint_groups=(
        # GA4 publishes no request rate for the Measurement Protocol; 20 per
        # second keeps a busy pipeline well clear of abuse protection.
        EndpointGroup(
            patterns=("/mp/collect", "/debug/mp/collect"),
            rate_limit=RateLimit(20, burst=20, max_concurrent=4),
            name="collect",
        ),
    ),
    description="GA4 events through the Measurement Protocol, validated before sending.",
)


def encode_event(event: Event) -> tuple[dict[str, Any] | None, str | None]:
    """``(GA4 event object, None)`` for a valid event, else ``(None, fixed message)``.

    ``None`` parameter values are left out (GA4 has no null parameter), as
    are ``None`` keys of items.
    """
    received = event.received
    if event.type.id == CUSTOM:
        name = custom_event_name(received.event)
        source, prefix = received.properties or {}, "properties"
    else:
        name = event.type.id
        source, prefix = event.type.values or {}, "values"
    problem = event_problem(name)
    if problem is not None:
        return None, problem
    params = {k: _strip(v) for k, v in source.items() if v is not None}
    problem = params_problem(params, prefix)
    if problem is not None:
        return None, problem
    out: dict[str, Any] = {"name": name, "params": params}
    at = received.timestamp or received.original_timestamp or received.received_at
    if at is not None:
        out["timestamp_micros"] = int(at.timestamp() * 1_000_000)
    return out, None


def custom_event_name(event: str | None) -> str | None:
    """GA4's name for Segment's ``event``: trimmed, each run of white space one ``_``.

    GA4 refuses spaces in names while Segment's own spec names events
    ``"Order Completed"``, so ``"Order Completed"`` becomes ``"Order_Completed"``
    (case is kept: GA4 names are case-sensitive). Any other character GA4
    refuses still makes the event a dead letter naming the rule.
    """
    if event is None:
        return None
    return "_".join(event.split())


def _strip(value: Any) -> Any:
    if isinstance(value, list):
        return [
            {k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else item
            for item in value
        ]
    return value


@connector(SPEC)
class GoogleAnalytics:
    """Writes events to one GA4 data stream; see the module docstring."""

    def __init__(self, env: Env[GoogleAnalyticsSettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        """Validate an empty request on ``/debug/mp/collect``; nothing is stored.

        A 401/403 means GA4 refused the API secret or measurement ID.
        """
        settings = await self.env.settings.load()
        try:
            response = await self.env.http.request(
                "POST",
                f"{settings.root}/debug/mp/collect",
                params=_params(settings),
                headers={"Content-Type": "application/json"},
                content=orjson.dumps({"client_id": "syncline-check", "events": []}),
                accept=(401, 403),
            )
        except ConnectorError as error:
            if error.status is None:
                return [
                    Problem(f"cannot reach Google Analytics ({error.message})", field="base_url")
                ]
            return [Problem(f"Google Analytics answered HTTP {error.status}; try again later")]
        if response.status_code in (401, 403):
            return [
                Problem(
                    f"Google Analytics refused the API secret (HTTP {response.status_code}); "
                    "create one under Admin > Data streams > Measurement Protocol API secrets "
                    "and check measurement_id",
                    field="api_secret",
                )
            ]
        return []

    async def event_types(self) -> list[EventType]:
        return list(EVENT_TYPES)

    async def event_type_schema(self, type_id: str) -> t.Object | None:
        if type_id == CUSTOM:
            return None
        if type_id not in SCHEMAS:
            known = ", ".join(sorted([*SCHEMAS, CUSTOM]))
            raise PermanentError(f"unknown event type {type_id!r}; Google Analytics takes {known}")
        return SCHEMAS[type_id]

    async def send_events(self, events: Events) -> None:
        """Send up to 25 valid events of one client (and user) in one ``/mp/collect`` request.

        Invalid events are discarded with a fixed message naming the field
        and the rule (GA4 would answer 2xx and drop them). An event of the
        same client with another userId, or one that would take the body to
        130 kB, is postponed (never the first: an event alone over the limit
        is discarded).
        """
        settings = await self.env.settings.load()
        request = self._collect_request(settings, events)
        if request is not None:
            await self.env.http.send(request)

    async def preview_send_events(self, events: Events) -> httpx.Request | None:
        """The request ``send_events`` would send, redacted, after GA4's validation server checked it.

        The body goes to ``/debug/mp/collect`` first (through the managed
        client; nothing is stored). Validation messages raise
        ``PermanentError`` naming their field paths.
        """
        settings = await self.env.settings.load()
        request = self._collect_request(settings, events)
        if request is None:
            return None
        response = await self.env.http.request(
            "POST",
            f"{settings.root}/debug/mp/collect",
            params=_params(settings),
            headers={"Content-Type": "application/json"},
            content=request.content,
        )
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise PermanentError(
                "the GA4 validation server answered with a body that is not JSON"
            ) from None
        messages = answer.get("validationMessages") if isinstance(answer, dict) else None
        if messages:
            fields = sorted(
                {str(m.get("fieldPath"))[:100] for m in messages if isinstance(m, dict)}
            )
            raise PermanentError(
                f"the GA4 validation server refused the request at {', '.join(fields)}"
            )
        return self.env.http.preview(request)

    def _collect_request(
        self, settings: GoogleAnalyticsSettings, events: Events
    ) -> httpx.Request | None:
        # One code path for send and preview. Events are measured encoded:
        # the body is the envelope plus the events joined by commas.
        encoded: list[bytes] = []
        client_id: str | None = None
        user_id: str | None = None
        size = 0
        for event in events.same_user():
            received = event.received
            if received.anonymous_id is None:
                events.discard(
                    PermanentError(
                        "the event has no anonymousId: GA4's client_id comes from it; "
                        "send events with the browser's anonymousId"
                    )
                )
                continue
            body, problem = encode_event(event)
            if body is None:
                events.discard(PermanentError(problem or "GA4 would ignore the event"))
                continue
            if client_id is None:
                client_id, user_id = received.anonymous_id, received.user_id
                size = len(_envelope(client_id, user_id, b""))
            elif received.user_id != user_id:
                # One request carries one user_id; this event opens the next request.
                events.postpone()
                break
            line = orjson.dumps(body)
            grown = size + len(line) + (1 if encoded else 0)
            if grown >= MAX_BODY:
                if not encoded:
                    events.discard(
                        PermanentError(
                            "the event is larger than GA4's limit of 130 kB per request; "
                            "send fewer or shorter parameters"
                        )
                    )
                    client_id = None
                    continue
                events.postpone()
                break
            encoded.append(line)
            size = grown
            if len(encoded) == MAX_EVENTS:
                break
        if not encoded or client_id is None:
            return None
        return self.env.http.build_request(
            "POST",
            f"{settings.root}/mp/collect",
            params=_params(settings),
            headers={"Content-Type": "application/json"},
            content=_envelope(client_id, user_id, b",".join(encoded)),
        )


def _envelope(client_id: str, user_id: str | None, events: bytes) -> bytes:
    head: dict[str, str] = {"client_id": client_id}
    if user_id is not None:
        head["user_id"] = user_id
    return orjson.dumps(head)[:-1] + b',"events":[' + events + b"]}"


def _params(settings: GoogleAnalyticsSettings) -> dict[str, str]:
    return {
        "measurement_id": settings.measurement_id,
        "api_secret": settings.api_secret.get_secret_value(),
    }
