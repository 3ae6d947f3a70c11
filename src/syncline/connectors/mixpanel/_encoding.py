"""How Syncline's events and users become Mixpanel's JSON (pure functions, no I/O).

Mixpanel's rules honoured here, from its public Import API and Engage docs:

* an imported event is ``{"event": name, "properties": {...}}`` whose
  properties carry ``distinct_id``, ``time`` (milliseconds since the epoch) and
  ``$insert_id`` (at most 36 characters, letters, digits and ``-``), used to
  deduplicate retries;
* one event may be at most 1 MB of JSON; one ``/import`` request at most
  2,000 events and 10 MB before compression;
* one ``/engage`` request at most 200 profile updates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

__all__ = [
    "ENGAGE_BATCH",
    "IMPORT_BATCH",
    "IMPORT_BODY",
    "MAX_EVENT",
    "PROFILE_FIELDS",
    "encode_event",
    "insert_id",
    "profile_set",
]

IMPORT_BATCH = 2000
IMPORT_BODY = 10 * 1024 * 1024
MAX_EVENT = 1024 * 1024
ENGAGE_BATCH = 200

# Syncline attribute -> Mixpanel's reserved profile property.
PROFILE_FIELDS: dict[str, str] = {
    "email": "$email",
    "name": "$name",
    "first_name": "$first_name",
    "last_name": "$last_name",
    "phone": "$phone",
}


def insert_id(message_id: str) -> str:
    """Mixpanel's ``$insert_id`` for a message: the first 32 hex digits of SHA-256(messageId).

    Segment message IDs may be longer than 36 characters or hold characters
    Mixpanel refuses, so every ID is hashed, which always fits the rule and is
    stable: a retried or replayed message gets the same ``$insert_id`` and is
    deduplicated by Mixpanel. 128 bits make collisions negligible.
    """
    return hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:32]


def encode_event(
    name: str,
    properties: Mapping[str, Any] | None,
    *,
    message_id: str,
    at: datetime,
    user_id: str | None,
    anonymous_id: str | None,
) -> bytes:
    """One NDJSON line (without newline) for ``/import``.

    ``distinct_id`` is the user ID, else the anonymous ID; ``$user_id`` and
    ``$device_id`` carry each one when present (Mixpanel's ID merge uses them).
    The reserved keys override properties of the same name.
    """
    out: dict[str, Any] = dict(properties or {})
    out["distinct_id"] = user_id if user_id is not None else (anonymous_id or "")
    if user_id is not None:
        out["$user_id"] = user_id
    if anonymous_id is not None:
        out["$device_id"] = anonymous_id
    out["time"] = int(at.timestamp() * 1000)
    out["$insert_id"] = insert_id(message_id)
    return orjson.dumps({"event": name, "properties": out})


def profile_set(token: str, distinct_id: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """One Engage ``$set`` update; known attributes take Mixpanel's reserved names."""
    values = {PROFILE_FIELDS.get(k, k): v for k, v in attributes.items()}
    return {"$token": token, "$distinct_id": distinct_id, "$set": values}
