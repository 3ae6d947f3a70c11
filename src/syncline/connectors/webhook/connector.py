"""The Webhook connector: events and users as signed JSON batches POSTed to a URL.

See ``docs/connectors/webhook.md`` for the body formats, the signature scheme,
the limits and the address policy.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, Field, SecretStr

from syncline import types as t
from syncline.connectors.webhook._address import blocked_network, resolve, split_url
from syncline.connectors.webhook.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from syncline.sdk.env import Env, Problem
from syncline.sdk.errors import (
    ConfigError,
    EventsError,
    PermanentError,
    RecordsError,
    RetryableError,
)
from syncline.sdk.events import Event, Events, EventType
from syncline.sdk.records import Records
from syncline.sdk.registry import connector
from syncline.sdk.spec import ApplicationSpec, AsDestination, EndpointGroup, RateLimit, Terms
from syncline.types import Role

__all__ = ["SPEC", "USERS_SCHEMA", "Webhook", "WebhookSettings"]

MAX_USERS = 100
"""Users per request."""
_CODE = re.compile(r"[A-Za-z0-9_.-]{1,40}")
# A field a receiver names in an event rejection: a dotted path of plain keys.
_FIELD_PATH = re.compile(r"[A-Za-z0-9_$-]{1,64}(\.[A-Za-z0-9_$-]{1,64}){0,7}")
_ALLOW = "allow_private_addresses"


class WebhookSettings(BaseModel):
    """Where to POST, the secret that signs each request, and the batch limits."""

    url: str = Field(description="The receiver's URL (https://…); every batch is POSTed to it")
    signing_secret: SecretStr = Field(
        description="Secret that keys the HMAC-SHA256 signature of each request; share it "
        "with the receiver"
    )
    allow_private_addresses: bool = Field(
        default=False,
        description="Allow a receiver on a private, loopback or link-local address (and "
        "plain http://); only for receivers inside your own network",
    )
    max_events: int = Field(default=100, ge=1, le=10_000, description="Events per request")
    max_body_bytes: int = Field(
        default=1_000_000, ge=1_024, le=100_000_000, description="Largest request body, in bytes"
    )


SPEC = ApplicationSpec(
    code="webhook",
    label="Webhook",
    as_destination=AsDestination(
        targets=("users", "events"), summary="POST users and events as signed JSON batches"
    ),
    terms=Terms(user="User", users="Users", user_id="User ID"),
    settings=WebhookSettings,
    endpoint_groups=(
        # A receiver's capacity is unknown: a moderate pace, and its 429s
        # (Retry-After) pause the bucket.
        EndpointGroup(patterns=("/",), rate_limit=RateLimit(10, burst=10), name="receiver"),
    ),
)

USERS_SCHEMA = t.Object(
    [
        t.Property("email", t.String(max_length=254), nullable=True),
        t.Property("first_name", t.String(max_length=200), nullable=True),
        t.Property("last_name", t.String(max_length=200), nullable=True),
        t.Property("traits", t.JSON(), nullable=True),
    ]
)
"""What a user carries to the receiver: ``attributes`` of each posted user."""


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def _pack(items: list[bytes], key: str, line: bytes, max_body: int) -> bool:
    """Whether ``line`` fits in a body ``{"<key>":[items…]}`` of at most ``max_body`` bytes."""
    size = len(key) + 7 + sum(len(i) + 1 for i in items) + len(line)
    return size <= max_body


def _body(key: str, items: list[bytes]) -> bytes:
    return b'{"' + key.encode() + b'":[' + b",".join(items) + b"]}"


@connector(SPEC)
class Webhook:
    """POSTs batches of events (up to ``max_events``) and users (up to 100) to ``url``, signed."""

    def __init__(self, env: Env[WebhookSettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        """Validate ``url`` and the address policy, resolving the host; nothing is sent.

        Problems: a URL that is not http(s) or has no host; ``http://`` without
        ``allow_private_addresses``; a host that does not resolve; a host that
        is (or resolves to) a private, loopback or link-local address while
        ``allow_private_addresses`` is false.
        """
        settings = await self.env.settings.load()
        try:
            await self._check_address(settings)
        except ConfigError as error:
            return [Problem(error.message, field=error.field)]
        except RetryableError as error:
            return [Problem(error.message, field="url")]
        return []

    async def record_schema(self, target: str, role: Role) -> t.Object:
        if target != "users":
            raise PermanentError(f"unknown target {target!r}: the webhook writes only 'users'")
        return t.as_role(USERS_SCHEMA, role)

    async def upsert(self, target: str, records: Records, schema: t.Object) -> None:
        """POST ``{"users": [{"id", "attributes"}…]}``: up to 100 users and ``max_body_bytes``.

        ``id`` is null for a create. A user that does not fit is postponed; a
        first user whose JSON alone exceeds ``max_body_bytes`` is discarded. A
        2xx answer writes every user, except those listed in its ``errors``
        (``RecordsError`` at their index). The request is not marked idempotent:
        a receiver may create a user per delivery, so it is never replayed.
        """
        settings = await self.env.settings.load()
        await self._check_address(settings)
        items: list[bytes] = []
        for record in records.all():
            line = _dumps({"id": record.id or None, "attributes": record.attributes})
            if not _pack(items, "users", line, settings.max_body_bytes):
                if items:
                    records.postpone()
                    break
                records.discard(
                    PermanentError(
                        "the user's JSON is larger than max_body_bytes; raise the setting "
                        "or map fewer attributes"
                    )
                )
                continue
            items.append(line)
            if len(items) == MAX_USERS:
                break
        if not items:
            return
        request = self._request(settings, _body("users", items), idempotent=False)
        response = await self.env.http.send(request)
        names = set(schema.names())
        errors = self._errors(response, len(items), "record", lambda _, field: field in names)
        if errors:
            raise RecordsError(errors)

    async def event_types(self) -> list[EventType]:
        return [EventType("event", "Event", "Every event, as received, with mapped values")]

    async def event_type_schema(self, type_id: str) -> t.Object | None:
        if type_id != "event":
            raise PermanentError(f"unknown event type {type_id!r}: the webhook has only 'event'")
        return None

    async def send_events(self, events: Events) -> None:
        """POST ``{"events": [{"id", "type", "message", "values"}…]}``, marked idempotent.

        ``id`` is the message ID (receivers dedupe on it, so a replayed request
        is safe). Up to ``max_events`` events and ``max_body_bytes``; an event
        that does not fit is postponed, a first event that alone exceeds the
        body limit is discarded. Events listed in a 2xx answer's ``errors`` fail
        with ``EventsError`` at their index; the message names the ``field``
        the receiver gave only when it is a dotted path of plain keys that
        exists in the event object sent (``message.context.traits.email``),
        so no text of the receiver reaches the error.
        """
        settings = await self.env.settings.load()
        await self._check_address(settings)
        request, sent = self._events_request(settings, events)
        if request is None:
            return
        response = await self.env.http.send(request)
        errors = self._errors(
            response, len(sent), "event", lambda index, field: _sent_field(sent[index], field)
        )
        if errors:
            raise EventsError(errors)

    async def preview_send_events(self, events: Events) -> httpx.Request | None:
        """The request ``send_events`` would send, with the signature shown as ``[REDACTED]``."""
        settings = await self.env.settings.load()
        request, _ = self._events_request(settings, events)
        if request is None:
            return None
        shown = self.env.http.preview(request)
        shown.headers[SIGNATURE_HEADER] = "[REDACTED]"
        return shown

    # -- one code path for send and preview -----------------------------------

    def _events_request(
        self, settings: WebhookSettings, events: Events
    ) -> tuple[httpx.Request | None, list[dict[str, Any]]]:
        """The request and the event objects it carries, in order (None and [] when empty)."""
        items: list[bytes] = []
        sent: list[dict[str, Any]] = []
        for event in events.all():
            body = _event_json(event)
            line = _dumps(body)
            if not _pack(items, "events", line, settings.max_body_bytes):
                if items:
                    events.postpone()
                    break
                events.discard(
                    PermanentError(
                        "the event's JSON is larger than max_body_bytes; raise the setting "
                        "or send smaller events"
                    )
                )
                continue
            items.append(line)
            sent.append(body)
            if len(items) == settings.max_events:
                break
        if not items:
            return None, []
        return self._request(settings, _body("events", items), idempotent=True), sent

    def _request(
        self, settings: WebhookSettings, body: bytes, *, idempotent: bool
    ) -> httpx.Request:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(settings.signing_secret.get_secret_value(), timestamp, body),
        }
        return self.env.http.build_request(
            "POST", settings.url, content=body, headers=headers, idempotency_key=idempotent or None
        )

    @staticmethod
    def _errors(
        response: httpx.Response, count: int, kind: str, known: Callable[[int, str], bool]
    ) -> dict[int, BaseException]:
        """Per-item rejections of a 2xx answer, with fixed messages (the receiver's text is never shown).

        ``known(index, field)`` says whether a ``field`` the receiver named
        for the item at ``index`` is one we sent, and so may be named.
        """
        if not response.content.strip():
            return {}
        try:
            answer = response.json()
        except ValueError:
            return {}  # a 2xx without JSON ("OK") accepts the whole batch
        listed = answer.get("errors") if isinstance(answer, Mapping) else None
        if not listed:
            return {}
        if not isinstance(listed, list):
            raise PermanentError("the receiver's 'errors' is not a list; fix the receiver")
        errors: dict[int, BaseException] = {}
        for entry in listed:
            index = entry.get("index") if isinstance(entry, Mapping) else None
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
                raise PermanentError(
                    f"the receiver's errors name an index outside the {count} {kind}s sent; "
                    "fix the receiver"
                )
            errors[index] = PermanentError(_rejection(kind, index, entry, known))
        return errors

    async def _check_address(self, settings: WebhookSettings) -> None:
        """Raise ``ConfigError`` for a malformed or refused URL, ``RetryableError`` if unresolvable."""
        try:
            scheme, host, port = split_url(settings.url)
        except ValueError as error:
            raise ConfigError(str(error), field="url") from None
        if settings.allow_private_addresses:
            return
        if scheme != "https":
            raise ConfigError(
                f"use an https:// URL, or set {_ALLOW} to true for a receiver in your own network",
                field="url",
            )
        try:
            addresses = await resolve(host, port)
        except OSError:
            raise RetryableError("the URL's host name does not resolve; check the URL") from None
        for address in addresses:
            network = blocked_network(address)
            if network is not None:
                raise ConfigError(
                    f"the URL's host is a private, loopback or link-local address (in "
                    f"{network}); use a public receiver, or set {_ALLOW} to true if the "
                    "receiver is meant to be inside your network",
                    field="url",
                )


def _event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.received.message_id,
        "type": event.type.id,
        "message": event.received.raw(),
        "values": event.type.values,
    }


def _sent_field(event: Mapping[str, Any], field: str) -> bool:
    """Whether ``field`` is a dotted path of plain keys that exists in the sent ``event``.

    Only such a field is named in an error: anything else a receiver puts
    there (free text, a value) could carry personal data.
    """
    if _FIELD_PATH.fullmatch(field) is None:
        return False
    value: Any = event
    for key in field.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return False
        value = value[key]
    return True


def _rejection(
    kind: str, index: int, entry: Mapping[str, Any], known: Callable[[int, str], bool]
) -> str:
    # The receiver's own text may quote personal data: only a field name we
    # sent and a short code are kept.
    message = f"the receiver rejected the {kind}"
    field = entry.get("field")
    if isinstance(field, str) and known(index, field):
        message += f" because of property {field!r}"
    code = entry.get("code")
    if isinstance(code, str) and _CODE.fullmatch(code):
        message += f" (code {code!r})"
    return message
