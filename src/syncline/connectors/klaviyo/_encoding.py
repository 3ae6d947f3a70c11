"""Klaviyo's JSON:API documents built from Syncline's records and events (pure, no I/O).

Klaviyo's rules honoured here, from its public API reference:

* every request names an API ``revision`` (a date) in a header of that name;
* a profile's writable attributes include ``email``, ``phone_number`` (E.164),
  ``external_id``, ``first_name``, ``last_name``, ``organization`` and
  ``title``; a new profile needs one of ``email``, ``phone_number`` or
  ``external_id``;
* ``POST /api/event-bulk-create-jobs/`` takes at most 1,000 events and 5 MB
  per request; each item names one profile and its events; an event's
  ``unique_id`` deduplicates it (a retried event is not counted twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = [
    "BULK_BODY",
    "BULK_EVENTS",
    "ENVELOPE",
    "IDENTIFIERS",
    "PROFILE_FIELDS",
    "bulk_body",
    "event_item",
    "iso",
    "profile_document",
]

BULK_EVENTS = 1000
"""Events per bulk create job request (Klaviyo's maximum)."""
BULK_BODY = 5 * 1024 * 1024
"""Bytes per bulk create job request (Klaviyo's maximum payload)."""
IDENTIFIERS = ("email", "phone_number", "external_id")
"""The attributes that identify a profile; one is required."""
PROFILE_FIELDS = (
    "email",
    "phone_number",
    "external_id",
    "first_name",
    "last_name",
    "organization",
    "title",
)


def iso(value: datetime) -> str:
    """``value`` in UTC as ISO 8601 with an offset, as Klaviyo writes times."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    return value


def profile_document(attributes: Mapping[str, Any], profile_id: str | None) -> dict[str, Any]:
    """The body of a profile create (no ID) or update (with the ID).

    Only known profile fields are sent; ``None`` clears a field on update and
    is left out on create (Klaviyo has nothing to clear yet).
    """
    values = {
        k: _plain(v)
        for k, v in attributes.items()
        if k in PROFILE_FIELDS and (v is not None or profile_id is not None)
    }
    data: dict[str, Any] = {"type": "profile", "attributes": values}
    if profile_id is not None:
        data["id"] = profile_id
    return {"data": data}


def event_item(
    *,
    metric: str,
    profile: Mapping[str, str],
    properties: Mapping[str, Any] | None,
    at: datetime,
    unique_id: str,
    value: float | None,
) -> bytes:
    """One ``event-bulk-create`` item (JSON): one profile with one event."""
    event: dict[str, Any] = {
        "properties": dict(properties or {}),
        "time": iso(at),
        "unique_id": unique_id,
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
    }
    if value is not None:
        event["value"] = value
    item = {
        "type": "event-bulk-create",
        "attributes": {
            "profile": {"data": {"type": "profile", "attributes": dict(profile)}},
            "events": {"data": [{"type": "event", "attributes": event}]},
        },
    }
    return orjson.dumps(item)


_HEAD = b'{"data":{"type":"event-bulk-create-job","attributes":{"events-bulk-create":{"data":['
_TAIL = b"]}}}}"
ENVELOPE = len(_HEAD) + len(_TAIL)
"""Bytes of a bulk request around its items."""


def bulk_body(items: list[bytes]) -> bytes:
    """The bulk create job document around already encoded items."""
    return _HEAD + b",".join(items) + _TAIL
