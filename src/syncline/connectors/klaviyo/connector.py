"""The Klaviyo connector: profiles as users (read and write), track events (bulk jobs).

What it relies on, from Klaviyo's public API reference (JSON:API documents,
``Authorization: Klaviyo-API-Key <private key>``, a ``revision`` header):

* ``GET /api/profiles/`` pages of at most 100 (``page[size]``), the next page's
  full URL in ``links.next``; ``filter=greater-or-equal(updated,<time>)`` with
  ``sort=updated`` reads the profiles changed since a time, oldest first;
* ``POST /api/profiles/`` creates one profile (201); a profile with the same
  email, phone number or external ID answers 409 ``duplicate_profile`` with
  the existing ID in ``meta.duplicate_profile_id``;
* ``PATCH /api/profiles/{id}/`` updates one profile (200; 404 when unknown);
* ``POST /api/event-bulk-create-jobs/`` queues up to 1,000 events (5 MB) at
  once (202); events are deduplicated by ``unique_id``;
* rate limits per account, fixed windows: profiles 75/s and 700/min, bulk
  event jobs 10/s and 150/min; over them, 429 with ``Retry-After``.

Klaviyo has no batch profile create or update with per-item results (its
profile-import endpoint upserts by email and reports no per-item errors), so
each ``upsert`` call writes one profile and its error is exact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, Field, SecretStr, field_validator

from syncline import types as t
from syncline.connectors.klaviyo._encoding import (
    BULK_BODY,
    BULK_EVENTS,
    ENVELOPE,
    IDENTIFIERS,
    bulk_body,
    event_item,
    iso,
    profile_document,
)
from syncline.sdk import (
    ApplicationSpec,
    AsDestination,
    AsSource,
    ConnectorError,
    EndpointGroup,
    Env,
    Events,
    EventsError,
    EventType,
    PermanentError,
    Problem,
    RateLimit,
    Records,
    RecordsError,
    RetryableError,
    Role,
    Terms,
    connector,
)
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.records import Record
from syncline.sdk.spec import Exponential, FailureReason, RetryAfter, RetryPolicy

__all__ = ["REVISION", "SPEC", "Klaviyo", "KlaviyoSettings"]

REVISION = "2024-10-15"
"""The API revision every request names."""
PAGE_SIZE = 100
JSONAPI = "application/vnd.api+json"

_RATE_LIMITED = RetryAfter(fallback=Exponential(1.0, 10.0, reason=FailureReason.RATE_LIMITED))


class KlaviyoSettings(BaseModel):
    """A private API key, and where Klaviyo's API is."""

    api_key: SecretStr = Field(
        description="Private API key (Settings > API keys) with the profiles:read, "
        "profiles:write and events:write scopes"
    )
    base_url: str = Field(
        default="https://a.klaviyo.com",
        description="Klaviyo's API address; change it only to use a sandbox",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("give an http(s) URL, e.g. https://a.klaviyo.com")
        return value


SPEC = ApplicationSpec(
    code="klaviyo",
    label="Klaviyo",
    as_source=AsSource(targets=("users",), summary="Import profiles as users"),
    as_destination=AsDestination(
        targets=("users", "events"),
        summary="Create and update profiles; send track events in bulk",
    ),
    terms=Terms(user="Profile", users="Profiles", user_id="Profile ID"),
    settings=KlaviyoSettings,
    endpoint_groups=(
        # 700 per fixed minute and 75 per second: a bucket admits its burst
        # plus 60 s of its rate in any minute, 8 + 11.4 * 60 = 692 <= 700.
        EndpointGroup(
            patterns=("/api/profiles/",),
            rate_limit=RateLimit(11.4, burst=8),
            retry=RetryPolicy.default().extend({429: _RATE_LIMITED}, max_attempts=8),
            name="profiles",
        ),
        # 150 per fixed minute and 10 per second: 4 + 2.4 * 60 = 148 <= 150.
        EndpointGroup(
            patterns=("/api/event-bulk-create-jobs/",),
            rate_limit=RateLimit(2.4, burst=4),
            retry=RetryPolicy.default().extend({429: _RATE_LIMITED}, max_attempts=8),
            name="bulk-events",
        ),
    ),
    description="Klaviyo profiles through the profiles API and events through bulk jobs.",
)

PROFILE_SCHEMA = t.Object(
    [
        t.Property("email", t.String(max_length=255), nullable=True),
        t.Property("phone_number", t.String(max_length=32), nullable=True),
        t.Property("external_id", t.String(max_length=255), nullable=True),
        t.Property("first_name", t.String(max_length=255), nullable=True),
        t.Property("last_name", t.String(max_length=255), nullable=True),
        t.Property("organization", t.String(max_length=255), nullable=True),
        t.Property("title", t.String(max_length=255), nullable=True),
    ]
)

TRACK_SCHEMA = t.Object(
    [
        t.Property(
            "email", t.String(max_length=255), nullable=True, prefilled="context.traits.email"
        ),
        t.Property("external_id", t.String(max_length=255), nullable=True, prefilled="userId"),
        t.Property("phone_number", t.String(max_length=32), nullable=True),
        t.Property("value", t.Float(), nullable=True, prefilled="properties.revenue"),
    ]
)
"""The values of a track event: who it is about, and its monetary value."""

# Fixed messages per JSON:API error code; Klaviyo's ``detail`` may echo values.
_POINTER = re.compile(r"^/data/attributes/([a-z_]+)")
_BULK_POINTER = re.compile(r"^/data/attributes/events-bulk-create/data/(\d+)(/.*)?$")
_OTHERS_REJECTED = "Klaviyo rejected the whole bulk request because of other events in it"
# Checked before sending: Klaviyo refuses a whole bulk request for one bad
# profile identifier, and every other event of it then goes again (an attempt
# each time), so the common faults are caught here. Loose on purpose: what
# passes may still be refused by Klaviyo, whose 400 names the item.
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Klaviyo takes event times from 2000 to one year ahead.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = timedelta(days=365)


@connector(SPEC)
class Klaviyo:
    """Reads profiles; writes one profile per call; sends up to 1,000 events per bulk job."""

    def __init__(self, env: Env[KlaviyoSettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        """Read one profile: 401/403 mean the key is refused or lacks a scope."""
        settings = await self.env.settings.load()
        try:
            response = await self.env.http.request(
                "GET",
                f"{settings.base_url}/api/profiles/",
                params={"page[size]": 1},
                headers=_headers(settings),
                accept=(400, 401, 403),
            )
        except ConnectorError as error:
            return [Problem(f"Klaviyo could not be reached ({error.message})", field="base_url")]
        if response.status_code in (401, 403):
            return [
                Problem(
                    f"Klaviyo refused the API key (HTTP {response.status_code}); create a "
                    "private key with the profiles and events scopes under Settings > API keys",
                    field="api_key",
                )
            ]
        if response.status_code == 400:
            return [Problem(f"Klaviyo refused the API revision {REVISION}; update Syncline")]
        return []

    async def record_schema(self, target: str, role: Role) -> t.Object:
        _users_only(target)
        return t.as_role(PROFILE_SCHEMA, role)

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: t.Object
    ) -> RecordsPage:
        """One page of profiles, oldest change first.

        The cursor is Klaviyo's ``links.next`` URL; only a URL of this
        connection's profiles endpoint is followed. With ``updated_at`` the
        read asks for profiles updated at or after it (duplicates at the
        boundary are allowed).
        """
        _users_only(target)
        settings = await self.env.settings.load()
        endpoint = f"{settings.base_url}/api/profiles/"
        if cursor is not None:
            if not cursor.startswith(endpoint + "?"):
                raise PermanentError(
                    "the users read cursor is not a Klaviyo profiles page of this connection; "
                    "run a full import to start the read over"
                )
            response = await self.env.http.request("GET", cursor, headers=_headers(settings))
        else:
            params: dict[str, Any] = {"page[size]": PAGE_SIZE, "sort": "updated"}
            if updated_at is not None:
                params["filter"] = f"greater-or-equal(updated,{iso(updated_at)})"
            response = await self.env.http.request(
                "GET", endpoint, params=params, headers=_headers(settings)
            )
        body = _json(response)
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise PermanentError("Klaviyo answered a profiles page without a data list")
        names = schema.names()
        records = [_to_record(item, names) for item in items]
        following = ((body.get("links") or {}).get("next")) or None
        if isinstance(following, str) and following:
            return RecordsPage(records, following, False)
        return RecordsPage(records, None, True)

    async def upsert(self, target: str, records: Records, schema: t.Object) -> None:
        """Create (no ID) or update (with ID) one profile per call.

        A create is never replayed by the HTTP client (a lost answer could
        mean the profile exists); an update sets the same values again, so it
        may be. A create with no email, phone number or external ID fails
        without a request. Klaviyo's 400 names the attribute at fault in
        ``source.pointer``: the error names that property with a fixed text.
        A 409 on create means a profile with the same identifier exists: the
        record fails naming that profile's ID (map it to the record ID to
        update it instead).
        """
        _users_only(target)
        settings = await self.env.settings.load()
        record = records.first()
        if record is None:
            return
        if not record.id and not any(record.attributes.get(k) for k in IDENTIFIERS):
            # Nothing is sent; after first() the record can only fail, not be discarded.
            raise RecordsError(
                {
                    0: PermanentError(
                        "the profile has no email, phone_number or external_id; Klaviyo needs "
                        "one of them to create a profile"
                    )
                }
            )
        if record.id:
            response = await self.env.http.request(
                "PATCH",
                f"{settings.base_url}/api/profiles/{record.id}/",
                content=orjson.dumps(profile_document(record.attributes, record.id)),
                headers=_headers(settings, write=True),
                idempotency_key=True,
                accept=(400, 404, 409),
            )
        else:
            response = await self.env.http.request(
                "POST",
                f"{settings.base_url}/api/profiles/",
                content=orjson.dumps(profile_document(record.attributes, None)),
                headers=_headers(settings, write=True),
                accept=(400, 409),
            )
        if response.status_code < 300:
            return
        raise RecordsError({0: _profile_error(response)})

    async def event_types(self) -> list[EventType]:
        return [
            EventType(
                "track",
                "Track",
                "Send track events; the metric is Segment's 'event', properties as they are",
                "type is 'track'",
            )
        ]

    async def event_type_schema(self, type_id: str) -> t.Object | None:
        if type_id != "track":
            raise PermanentError(f"unknown event type {type_id!r}; Klaviyo takes 'track'")
        return TRACK_SCHEMA

    async def send_events(self, events: Events) -> None:
        """Queue up to 1,000 events (5 MB) in one bulk create job.

        Discarded before sending, with a fixed message naming the field: no
        metric name (``event``), no profile identifier, a profile ``email``
        not shaped like an address, a ``phone_number`` not in E.164, no time
        or a time before 2000 or more than a year ahead.

        Klaviyo validates the whole request and writes nothing on a 400. When
        the 400's errors point at items, those events fail (a fixed message
        naming the field) and every other event of the request fails as
        retryable, so the engine sends it again in a later call without the
        rejected ones (safe: ``unique_id`` deduplicates) — one call, one
        request. A 400 that points at no item fails every event.
        """
        settings = await self.env.settings.load()
        request = self._bulk_request(settings, events, preview=False)
        if request is None:
            return
        response = await self.env.http.send(request, accept=(400,))
        if response.status_code != 400:
            return
        items: list[bytes] = request.extensions["syncline_items"]
        failed = _bulk_errors(_json(response), len(items))
        if failed is None:
            raise PermanentError("Klaviyo refused the bulk events request (HTTP 400)", status=400)
        for i in range(len(items)):
            failed.setdefault(i, RetryableError(_OTHERS_REJECTED))
        raise EventsError(failed)

    async def preview_send_events(self, events: Events) -> httpx.Request | None:
        settings = await self.env.settings.load()
        request = self._bulk_request(settings, events, preview=True)
        return None if request is None else self.env.http.preview(request)

    def _bulk_request(
        self, settings: KlaviyoSettings, events: Events, *, preview: bool
    ) -> httpx.Request | None:
        # One code path for send and preview. Items are measured encoded: one
        # that does not fit is postponed (never the first; an item alone over
        # the limit is discarded, so the first always fits).
        items: list[bytes] = []
        size = ENVELOPE
        for event in events.all():
            received = event.received
            if not received.event:
                events.discard(PermanentError("the track event has no name (event)"))
                continue
            profile = _profile_of(event.type.values, received.user_id, received.context)
            if not profile:
                events.discard(
                    PermanentError(
                        "the event names no Klaviyo profile: email, external_id and "
                        "phone_number are all empty; map one of them (e.g. email)"
                    )
                )
                continue
            problem = _profile_problem(profile)
            if problem is not None:
                events.discard(PermanentError(problem))
                continue
            at = received.timestamp or received.original_timestamp or received.received_at
            if at is None:
                events.discard(PermanentError("the event has no timestamp; Klaviyo needs time"))
                continue
            if not _EARLIEST <= at <= datetime.now(UTC) + _LATEST:
                events.discard(
                    PermanentError(
                        "the event's time (timestamp) is before 2000 or more than a year "
                        "ahead; Klaviyo refuses the whole request for it"
                    )
                )
                continue
            pipeline = "[PIPELINE]" if preview else event.pipeline
            value = (event.type.values or {}).get("value")
            item = event_item(
                metric=received.event,
                profile=profile,
                properties=received.properties,
                at=at,
                unique_id=f"{pipeline}/{received.message_id}",
                value=float(value) if isinstance(value, int | float) else None,
            )
            if ENVELOPE + len(item) > BULK_BODY:
                events.discard(
                    PermanentError(
                        "the event is larger than Klaviyo's limit of 5 MB per request; "
                        "send fewer or smaller properties"
                    )
                )
                continue
            extra = len(item) + (1 if items else 0)
            if items and size + extra > BULK_BODY:
                events.postpone()
                break
            items.append(item)
            size += extra
            if len(items) == BULK_EVENTS:
                break
        if not items:
            return None
        request = self.env.http.build_request(
            "POST",
            f"{settings.base_url}/api/event-bulk-create-jobs/",
            headers=_headers(settings, write=True),
            content=bulk_body(items),
            idempotency_key=True,  # Klaviyo dedupes on unique_id
        )
        request.extensions["syncline_items"] = items
        return request


def _profile_of(values: dict[str, Any] | None, user_id: str | None, context: Any) -> dict[str, str]:
    """The identifiers of the event's profile: the mapped values, else userId and traits."""
    if values is not None:
        return {k: str(values[k]) for k in IDENTIFIERS if values.get(k)}
    out: dict[str, str] = {}
    traits = context.get("traits") if isinstance(context, Mapping) else None
    email = traits.get("email") if isinstance(traits, Mapping) else None
    if isinstance(email, str) and email:
        out["email"] = email
    if user_id:
        out["external_id"] = user_id
    return out


def _profile_problem(profile: Mapping[str, str]) -> str | None:
    """The fixed message for an identifier Klaviyo would refuse the whole request for, or None."""
    email = profile.get("email")
    if email is not None and not _EMAIL_SHAPE.match(email):
        return (
            "the event's profile email (email) is not an email address; Klaviyo refuses the "
            "whole request for it: fix the mapping or filter such events"
        )
    phone = profile.get("phone_number")
    if phone is not None and not _E164.match(phone):
        return (
            "the event's profile phone_number (phone_number) is not in E.164 form "
            "(+ and 7 to 15 digits); Klaviyo refuses the whole request for it"
        )
    return None


def _to_record(item: Any, names: list[str]) -> Record:
    if not isinstance(item, dict) or not item.get("id"):
        raise PermanentError("Klaviyo returned a profile without an ID")
    attributes = item.get("attributes") or {}
    record_id = str(item["id"])
    try:
        updated = datetime.fromisoformat(str(attributes.get("updated")))
    except ValueError:
        error = PermanentError("Klaviyo returned a profile with an unreadable 'updated' time")
        return Record(record_id, {}, None, error)
    return Record(record_id, {n: attributes.get(n) for n in names}, updated)


def _profile_error(response: httpx.Response) -> ConnectorError:
    body = _json(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    status = response.status_code
    if status == 409:
        existing = ((first.get("meta") or {}).get("duplicate_profile_id")) or "unknown"
        return PermanentError(
            "a Klaviyo profile with the same email, phone_number or external_id already "
            f"exists (profile {existing}); match on it to update that profile",
            status=409,
        )
    if status == 404:
        return PermanentError("the Klaviyo profile to update does not exist", status=404)
    pointer = str((first.get("source") or {}).get("pointer") or "")
    match = _POINTER.match(pointer)
    if match:
        return PermanentError(f"Klaviyo refused the value of property {match[1]!r}", status=status)
    return PermanentError("Klaviyo refused the profile (HTTP 400)", status=status)


def _bulk_errors(body: Any, count: int) -> dict[int, ConnectorError] | None:
    """Errors by item index of a bulk 400; None when an error points at no item."""
    errors = body.get("errors") if isinstance(body, dict) else None
    failed: dict[int, ConnectorError] = {}
    for error in errors if isinstance(errors, list) else ():
        pointer = str(((error or {}).get("source") or {}).get("pointer") or "")
        match = _BULK_POINTER.match(pointer)
        if not match or int(match[1]) >= count:
            return None
        field = (match[2] or "").rsplit("/", 1)[-1] or "event"
        failed[int(match[1])] = PermanentError(f"Klaviyo refused the event's {field}", status=400)
    return failed or None


def _headers(settings: KlaviyoSettings, *, write: bool = False) -> dict[str, str]:
    headers = {
        "Authorization": f"Klaviyo-API-Key {settings.api_key.get_secret_value()}",
        "revision": REVISION,
        "Accept": JSONAPI,
    }
    if write:
        headers["Content-Type"] = JSONAPI
    return headers


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise PermanentError(
            f"Klaviyo answered HTTP {response.status_code} with a body that is not JSON"
        ) from None


def _users_only(target: str) -> None:
    if target != "users":
        raise PermanentError(f"unknown target {target!r}; Klaviyo takes 'users' and 'events'")
