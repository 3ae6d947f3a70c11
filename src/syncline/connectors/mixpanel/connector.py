"""Mixpanel as a destination of ``events`` (Import API) and ``users`` (Engage ``$set``).

What the connector relies on, from Mixpanel's public Ingestion API docs:

* ``POST /import?strict=1`` takes NDJSON (``application/x-ndjson``), optionally
  gzip-compressed, at most 2,000 events and 10 MB uncompressed per request,
  each event at most 1 MB. With ``strict=1`` a 400 lists ``failed_records``
  (``index``, ``field``, ``message``) and the other events of the request
  are still imported. ``$insert_id`` deduplicates retries.
* ``/import`` authenticates with HTTP Basic: a service account
  (``username:secret``, with the ``project_id`` query parameter) or the
  project token as user name with an empty password.
* ``POST /engage`` takes a JSON array of at most 200 updates, each carrying
  the project token in ``$token``; ``verbose=1`` makes the answer
  ``{"status": 1|0, "error": ...}`` for the whole batch.
* Data residency: ``api.mixpanel.com`` (US) or ``api-eu.mixpanel.com`` (EU).
* A project may ingest 2 GB per minute and about 30,000 events per second;
  beyond that Mixpanel answers 429.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import httpx
import orjson
from pydantic import BaseModel, Field, SecretStr, model_validator

from syncline import types as t
from syncline.connectors.mixpanel._encoding import (
    ENGAGE_BATCH,
    IMPORT_BATCH,
    IMPORT_BODY,
    MAX_EVENT,
    encode_event,
    profile_set,
)
from syncline.sdk import (
    ApplicationSpec,
    AsDestination,
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
    Role,
    Terms,
    connector,
)

__all__ = ["HOSTS", "SPEC", "Mixpanel", "MixpanelSettings", "field_message"]

HOSTS = {"us": "https://api.mixpanel.com", "eu": "https://api-eu.mixpanel.com"}


class MixpanelSettings(BaseModel):
    """Settings of a Mixpanel connection.

    ``project_token`` is always needed (Engage takes it in every update).
    Events are imported with the service account when ``service_account_username``
    and ``service_account_secret`` are set (then ``project_id`` is required),
    else with the project token.
    """

    project_token: SecretStr = Field(description="Project token (Project Settings > Overview)")
    service_account_username: str | None = Field(
        None, description="Service account user name, for /import (optional)"
    )
    service_account_secret: SecretStr | None = Field(
        None, description="Service account secret, with service_account_username"
    )
    project_id: str | None = Field(None, description="Project ID; required with a service account")
    residency: Literal["us", "eu"] = Field(
        "us", description="Where the project's data lives: us (api.mixpanel.com) or eu"
    )
    base_url: str | None = Field(
        None, description="Overrides the host chosen by residency (a sandbox, a proxy)"
    )

    @model_validator(mode="after")
    def _service_account(self) -> MixpanelSettings:
        has_user = self.service_account_username is not None
        if has_user != (self.service_account_secret is not None):
            raise ValueError(
                "service_account_username and service_account_secret go together: set both "
                "to import with a service account, or neither to use the project token"
            )
        if has_user and not self.project_id:
            raise ValueError(
                "project_id is required with a service account: copy it from "
                "Project Settings > Overview"
            )
        return self

    @property
    def root(self) -> str:
        return (self.base_url or HOSTS[self.residency]).rstrip("/")


SPEC = ApplicationSpec(
    code="mixpanel",
    label="Mixpanel",
    as_destination=AsDestination(
        targets=("users", "events"),
        summary="Send track events (Import API) and set user profile properties (Engage)",
    ),
    terms=Terms(user="Profile", users="Profiles", user_id="Distinct ID"),
    settings=MixpanelSettings,
    endpoint_groups=(
        # About 30,000 events/s per project: 10 requests of up to 2,000 events
        # per second stays well under it, and under 2 GB/min at 10 MB each.
        EndpointGroup(
            patterns=("/import", "/engage"),
            rate_limit=RateLimit(10, burst=10, max_concurrent=4),
            name="ingestion",
        ),
    ),
    description="Mixpanel events through the Import API and profiles through Engage.",
)

SCHEMA = t.Object(
    [
        t.Property("email", t.String(max_length=255), nullable=True),
        t.Property("name", t.String(max_length=255), nullable=True),
        t.Property("first_name", t.String(max_length=255), nullable=True),
        t.Property("last_name", t.String(max_length=255), nullable=True),
        t.Property("phone", t.String(max_length=64), nullable=True),
    ]
)

# Mixpanel's failed_records name the field at fault; the error a user sees is
# a fixed text per field, so failures aggregate and no value leaks.
_FIELD_MESSAGES = {
    "properties.time": (
        "Mixpanel rejected the event's time (properties.time): it must be after "
        "1971-01-01 and at most one hour in the future"
    ),
    "properties.distinct_id": (
        "Mixpanel rejected the event's distinct_id (properties.distinct_id): the user ID "
        "is a placeholder such as 'null' or 'anonymous'; send the real user ID"
    ),
    "properties.$insert_id": ("Mixpanel rejected the event's $insert_id (properties.$insert_id)"),
    "event": "Mixpanel rejected the event name (event): it must be a non-empty string",
}


def field_message(field: object) -> str:
    """The fixed error text for a failed record whose ``field`` Mixpanel names."""
    if isinstance(field, str) and field in _FIELD_MESSAGES:
        return _FIELD_MESSAGES[field]
    if isinstance(field, str) and field and len(field) <= 100:
        return f"Mixpanel rejected the event: {field} is invalid (strict validation)"
    return "Mixpanel rejected the event (strict validation)"


@connector(SPEC)
class Mixpanel:
    """Writes events and profiles to one Mixpanel project; see the module docstring."""

    def __init__(self, env: Env[MixpanelSettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        """Send an empty batch to ``/import``: 401/403 mean the credentials are refused.

        Nothing is imported; any other answer (a 400 for the empty batch
        included) shows the credentials were accepted.
        """
        settings = await self.env.settings.load()
        field = "service_account_secret" if settings.service_account_username else "project_token"
        try:
            response = await self.env.http.request(
                "POST",
                f"{settings.root}/import",
                params=_import_params(settings),
                headers={**_import_auth(settings), "Content-Type": "application/json"},
                content=b"[]",
                accept=(400, 401, 403),
            )
        except ConnectorError as error:
            if error.status is None:
                return [Problem(f"cannot reach Mixpanel ({error.message})", field="base_url")]
            return [Problem(f"Mixpanel answered HTTP {error.status}; try again later")]
        if response.status_code in (401, 403):
            return [
                Problem(
                    f"Mixpanel refused the credentials (HTTP {response.status_code}); copy "
                    "them again from Project Settings (and check project_id and residency)",
                    field=field,
                )
            ]
        return []

    async def record_schema(self, target: str, role: Role) -> t.Object:
        _users_only(target)
        return t.as_role(SCHEMA, role)

    async def upsert(self, target: str, records: Records, schema: t.Object) -> None:
        """``$set`` up to 200 profiles in one ``/engage`` request.

        The record ID is the profile's ``distinct_id``: a record without one is
        discarded (Mixpanel has no profile without it). An ``email`` without
        ``@`` is discarded. Engage answers for the whole batch: a refusal
        fails every consumed record.
        """
        _users_only(target)
        settings = await self.env.settings.load()
        token = settings.project_token.get_secret_value()
        batch: list[dict[str, Any]] = []
        for record in records.all():
            if not record.id:
                records.discard(
                    PermanentError(
                        "the record has no ID: a Mixpanel profile is keyed by its distinct_id; "
                        "map the user ID to the record ID"
                    )
                )
                continue
            email = record.attributes.get("email")
            if isinstance(email, str) and "@" not in email:
                records.discard(PermanentError("email is not an email address"))
                continue
            batch.append(profile_set(token, record.id, record.attributes))
            if len(batch) == ENGAGE_BATCH:
                break
        if not batch:
            return
        response = await self.env.http.request(
            "POST",
            f"{settings.root}/engage",
            params={"verbose": "1"},
            headers={"Content-Type": "application/json"},
            content=orjson.dumps(batch),
            idempotency_key=True,  # $set is idempotent
        )
        answer = _json(response)
        if not isinstance(answer, dict) or answer.get("status") != 1:
            raise PermanentError(
                "Mixpanel refused the profile updates (Engage status 0); check project_token"
            )

    async def event_types(self) -> list[EventType]:
        return [
            EventType(
                "track",
                "Track",
                "Import track events; the event name is Segment's 'event'",
                "type is 'track'",
            )
        ]

    async def event_type_schema(self, type_id: str) -> t.Object | None:
        if type_id != "track":
            raise PermanentError(f"unknown event type {type_id!r}; Mixpanel takes 'track'")
        return None

    async def send_events(self, events: Events) -> None:
        """Import up to 2,000 events (10 MB) in one gzip NDJSON request with ``strict=1``.

        Events Mixpanel rejects come back in ``failed_records`` and fail at
        their index with a fixed message naming the field; the others were
        imported. A 400 without ``failed_records`` fails the whole call.
        """
        settings = await self.env.settings.load()
        request = self._import_request(settings, events)
        if request is None:
            return
        response = await self.env.http.send(request, accept=(400,))
        if response.status_code != 400:
            return
        answer = _json(response)
        failed = answer.get("failed_records") if isinstance(answer, dict) else None
        if not isinstance(failed, list) or not failed:
            raise PermanentError(
                "Mixpanel refused the whole batch (HTTP 400 without failed_records)"
            )
        errors: dict[int, BaseException] = {}
        for item in failed:
            if isinstance(item, dict) and isinstance(item.get("index"), int):
                errors[item["index"]] = PermanentError(field_message(item.get("field")))
        if not errors:
            raise PermanentError("Mixpanel refused the batch; its failed_records carry no index")
        raise EventsError(errors)

    async def preview_send_events(self, events: Events) -> httpx.Request | None:
        settings = await self.env.settings.load()
        request = self._import_request(settings, events)
        return None if request is None else self.env.http.preview(request)

    def _import_request(self, settings: MixpanelSettings, events: Events) -> httpx.Request | None:
        # One code path for send and preview. Events are measured encoded:
        # one that does not fit the request is postponed (never the first;
        # an event alone over 1 MB is discarded, so the first always fits).
        lines: list[bytes] = []
        size = 0
        for event in events.all():
            received = event.received
            if not received.event:
                events.discard(PermanentError("the track event has no name (event)"))
                continue
            at = received.timestamp or received.original_timestamp or received.received_at
            if at is None:
                events.discard(PermanentError("the event has no timestamp; Mixpanel needs time"))
                continue
            line = encode_event(
                received.event,
                received.properties,
                message_id=received.message_id,
                at=at,
                user_id=received.user_id,
                anonymous_id=received.anonymous_id,
            )
            if len(line) > MAX_EVENT:
                events.discard(
                    PermanentError(
                        "the event is larger than Mixpanel's limit of 1 MB per event; "
                        "send fewer or smaller properties"
                    )
                )
                continue
            if lines and size + len(line) + 1 > IMPORT_BODY:
                events.postpone()
                break
            lines.append(line)
            size += len(line) + 1
            if len(lines) == IMPORT_BATCH:
                break
        if not lines:
            return None
        return self.env.http.build_request(
            "POST",
            f"{settings.root}/import",
            params=_import_params(settings),
            headers={**_import_auth(settings), "Content-Type": "application/x-ndjson"},
            content=b"\n".join(lines) + b"\n",
            idempotency_key=True,  # Mixpanel dedupes on $insert_id
            gzip=True,
        )


def _import_params(settings: MixpanelSettings) -> dict[str, str]:
    params = {"strict": "1"}
    if settings.service_account_username and settings.project_id:
        params["project_id"] = settings.project_id
    return params


def _import_auth(settings: MixpanelSettings) -> dict[str, str]:
    if settings.service_account_username and settings.service_account_secret:
        pair = (
            f"{settings.service_account_username}:"
            f"{settings.service_account_secret.get_secret_value()}"
        )
    else:
        pair = f"{settings.project_token.get_secret_value()}:"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise PermanentError(
            f"Mixpanel answered HTTP {response.status_code} with a body that is not JSON"
        ) from None


def _users_only(target: str) -> None:
    if target != "users":
        raise PermanentError(f"unknown target {target!r}; Mixpanel takes 'users' and 'events'")
