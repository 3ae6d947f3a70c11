"""Turning a Segment request body into normalized messages and per-event rejections.

One request body holds one message (``/v1/track`` and the other per-type
paths) or a ``batch`` of them (``/v1/batch``, ``/v1/b``, ``/v1/import``). Each
message is checked on its own: a bad one is rejected with a fixed reason and the
others are kept, because every client drops a whole batch on a 400.

What a kept message becomes (everything else stays exactly as sent):

* the batch-level ``context`` and ``integrations`` objects are merged into the
  message's own (top-level keys of the message win);
* ``writeKey`` is removed (it is a credential);
* a missing ``messageId`` is filled with a random UUID;
* ``receivedAt`` is set to the collector's clock;
* ``sentAt`` is the message's own or else the batch's;
* ``originalTimestamp`` is the message's ``timestamp`` as sent (or its
  ``originalTimestamp`` when it sent no ``timestamp``), and ``timestamp`` is
  corrected for the client's clock skew: ``receivedAt − (sentAt −
  originalTimestamp)`` when ``sentAt`` is known, else the original timestamp,
  else ``receivedAt``;
* on a per-type path, ``type`` is the path's type.

Rejection reasons (fixed strings, no personal data): ``not_an_object``,
``missing_type``, ``unknown_type``, ``missing_id`` (neither ``userId`` nor
``anonymousId``), ``invalid_field`` (a field of the wrong JSON type; the field's
name is recorded), ``invalid_timestamp`` (not ISO 8601, or out of range) and
``event_too_large`` (strict mode only).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from syncline.sdk.received import EVENT_TYPES

__all__ = ["REASONS", "Normalized", "Rejection", "format_time", "normalize"]

REASONS: Final = (
    "not_an_object",
    "missing_type",
    "unknown_type",
    "missing_id",
    "invalid_field",
    "invalid_timestamp",
    "event_too_large",
)

_STRING_FIELDS: Final = ("event", "name", "category", "channel", "groupId", "previousId")
_OBJECT_FIELDS: Final = ("properties", "traits", "context", "integrations")
_MERGED_FIELDS: Final = ("context", "integrations")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one event of a request was not stored: no value of the event is kept."""

    index: int
    type: str | None
    reason: str
    field: str | None = None


@dataclass(slots=True)
class Normalized:
    """The kept messages (in request order) and the rejections of one request."""

    messages: list[dict[str, Any]]
    rejections: list[Rejection]


class _Reject(Exception):
    def __init__(self, reason: str, field: str | None = None) -> None:
        self.reason = reason
        self.field = field


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as Segment writes times."""
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def _parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise _Reject("invalid_timestamp", field)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Reject("invalid_timestamp", field) from None
    if parsed.tzinfo is None:
        # Segment clients always send an offset; a naive time can only be UTC.
        return parsed.replace(tzinfo=UTC)
    return parsed


def _check_identifier(message: dict[str, Any], key: str) -> bool:
    """Whether the message carries a usable ``key``; ``_Reject`` for a wrong type."""
    value = message.get(key)
    if value is None:
        return False
    if isinstance(value, str):
        return value != ""
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    raise _Reject("invalid_field", key)


def normalize(
    body: dict[str, Any],
    path_type: str | None,
    received_at: datetime,
    *,
    strict_event_bytes: int | None = None,
) -> Normalized:
    """Normalize a parsed body; ``path_type`` is the per-type path's type or ``None`` for a batch.

    For a batch the caller has already checked that ``body["batch"]`` is a list.
    Never raises for anything inside the messages: each problem is a
    :class:`Rejection`.
    """
    received_text = format_time(received_at)
    if path_type is None:
        items: list[Any] = body["batch"]
        shared = {key: body.get(key) for key in _MERGED_FIELDS}
        batch_sent_at = body.get("sentAt")
    else:
        items = [body]
        shared = {key: None for key in _MERGED_FIELDS}
        batch_sent_at = None
    kept: list[dict[str, Any]] = []
    rejections: list[Rejection] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            rejections.append(Rejection(index, None, "not_an_object"))
            continue
        kind = path_type or item.get("type")
        try:
            if strict_event_bytes is not None and _encoded_size(item) > strict_event_bytes:
                raise _Reject("event_too_large")
            kept.append(_message(item, kind, shared, batch_sent_at, received_at, received_text))
        except _Reject as rejected:
            shown = kind if isinstance(kind, str) and kind in EVENT_TYPES else None
            rejections.append(Rejection(index, shown, rejected.reason, rejected.field))
    return Normalized(kept, rejections)


def _encoded_size(item: dict[str, Any]) -> int:
    try:
        return len(orjson.dumps(item))
    except (TypeError, orjson.JSONEncodeError):
        # Parsed JSON always encodes; an integer beyond 64 bits is the exception.
        return len(repr(item).encode("utf-8", "replace"))


def _message(
    item: dict[str, Any],
    kind: Any,
    shared: dict[str, Any],
    batch_sent_at: Any,
    received_at: datetime,
    received_text: str,
) -> dict[str, Any]:
    if kind is None:
        raise _Reject("missing_type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise _Reject("unknown_type")
    has_anonymous = _check_identifier(item, "anonymousId")
    has_user = _check_identifier(item, "userId")
    if not has_anonymous and not has_user:
        raise _Reject("missing_id")
    message_id = item.get("messageId")
    if message_id is not None and not isinstance(message_id, str):
        raise _Reject("invalid_field", "messageId")
    for key in _STRING_FIELDS:
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            raise _Reject("invalid_field", key)
    for key in _OBJECT_FIELDS:
        value = item.get(key)
        if value is not None and not isinstance(value, dict):
            raise _Reject("invalid_field", key)

    message = dict(item)
    message.pop("writeKey", None)
    message["type"] = kind
    for key, outer in shared.items():
        if isinstance(outer, dict) and outer:
            inner = message.get(key)
            message[key] = {**outer, **inner} if inner else dict(outer)
    if not message_id:
        message["messageId"] = str(uuid.uuid4())

    sent_text = item.get("sentAt")
    if sent_text is None:
        sent_text = batch_sent_at
    original_text = item.get("timestamp")
    if original_text is None:
        original_text = item.get("originalTimestamp")
    sent = None if sent_text is None else _parse_time(sent_text, "sentAt")
    original = None if original_text is None else _parse_time(original_text, "timestamp")
    message["receivedAt"] = received_text
    if sent is not None:
        message["sentAt"] = sent_text
    if original is None:
        message["timestamp"] = received_text
        return message
    message["originalTimestamp"] = original_text
    if sent is None:
        # No sentAt: nothing to correct with; keep the client's time, normalized.
        message["timestamp"] = _format_checked(original)
        return message
    try:
        message["timestamp"] = format_time(received_at - (sent - original))
    except (OverflowError, ValueError):
        raise _Reject("invalid_timestamp", "timestamp") from None
    return message


def _format_checked(value: datetime) -> str:
    try:
        return format_time(value)
    except (OverflowError, ValueError):
        raise _Reject("invalid_timestamp", "timestamp") from None
