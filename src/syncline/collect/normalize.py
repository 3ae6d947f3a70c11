"""Turning a Segment request body into event log rows and per-event rejections.

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

A kept message is then encoded once (orjson) into the :class:`LogRow` the
event log stores.

Cost choice, because this runs for every event: the kept messages are the
body's own dicts, changed in place (the body is parsed for this request and
thrown away after it), and times go through :class:`TimeCorrector`, whose fast
path reads and writes the ``YYYY-MM-DDTHH:MM:SS.mmmZ`` form without
``datetime``.

Rejection reasons (fixed strings, no personal data): ``not_an_object``,
``missing_type``, ``unknown_type``, ``missing_id`` (neither ``userId`` nor
``anonymousId``), ``invalid_field`` (a field of the wrong JSON type; the field's
name is recorded), ``invalid_timestamp`` (not ISO 8601, or out of range),
``event_too_large`` (strict mode only) and ``too_deeply_nested`` (objects or
arrays nested deeper than the encoder writes, 254 levels: the parser reads
deeper than that, so without this one event would fail its whole request).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from syncline.collect.timestamps import InvalidTime, TimeCorrector
from syncline.sdk.received import EVENT_TYPES
from syncline.store.event_log import LogRow

__all__ = ["REASONS", "Normalized", "Rejection", "normalize"]

REASONS: Final = (
    "not_an_object",
    "missing_type",
    "unknown_type",
    "missing_id",
    "invalid_field",
    "invalid_timestamp",
    "event_too_large",
    "too_deeply_nested",
)

# Optional fields checked for their JSON type, in the order they are checked
# (the first wrong one is the rejection's field).
_TYPED_FIELDS: Final = (
    ("event", str),
    ("name", str),
    ("category", str),
    ("channel", str),
    ("groupId", str),
    ("previousId", str),
    ("properties", dict),
    ("traits", dict),
    ("context", dict),
    ("integrations", dict),
)
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
    """The kept events as log rows (in request order) and the rejections of one request."""

    rows: list[LogRow]
    rejections: list[Rejection]


class _Reject(Exception):
    def __init__(self, reason: str, field: str | None = None) -> None:
        self.reason = reason
        self.field = field


def normalize(
    body: dict[str, Any],
    path_type: str | None,
    received_at: datetime,
    source_id: int,
    *,
    strict_event_bytes: int | None = None,
    minutes: tuple[dict[str, int], dict[int, str]] | None = None,
) -> Normalized:
    """Normalize a parsed body into rows of ``source_id``; ``path_type`` is ``None`` for a batch.

    ``path_type`` is the per-type path's type. For a batch the caller has
    already checked that ``body["batch"]`` is a list. The body's message dicts
    are changed in place (see the module docs); a rejected one is left as it
    was. ``minutes`` is a :meth:`TimeCorrector.minutes_cache` kept across
    requests. Never raises for anything inside the messages: each problem is a
    :class:`Rejection`.
    """
    times = TimeCorrector(received_at, minutes)
    shared: list[tuple[str, dict[str, Any]]] = []
    if path_type is None:
        items: list[Any] = body["batch"]
        shared = [
            (key, outer)
            for key in _MERGED_FIELDS
            if isinstance(outer := body.get(key), dict) and outer
        ]
        batch_sent_at = body.get("sentAt")
    else:
        items = [body]
        batch_sent_at = None
    rows: list[LogRow] = []
    rejections: list[Rejection] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            rejections.append(Rejection(index, None, "not_an_object"))
            continue
        kind = path_type or item.get("type")
        try:
            if strict_event_bytes is not None and _encoded_size(item) > strict_event_bytes:
                raise _Reject("event_too_large")
            rows.append(_row(item, kind, shared, batch_sent_at, times, received_at, source_id))
        except _Reject as rejected:
            shown = kind if isinstance(kind, str) and kind in EVENT_TYPES else None
            rejections.append(Rejection(index, shown, rejected.reason, rejected.field))
    return Normalized(rows, rejections)


def _encoded_size(item: dict[str, Any]) -> int:
    try:
        return len(orjson.dumps(item))
    except (TypeError, orjson.JSONEncodeError):
        # Parsed JSON always encodes; an integer beyond 64 bits is the exception.
        return len(repr(item).encode("utf-8", "replace"))


def _identifier(value: Any, key: str) -> str | None:
    """A ``userId``/``anonymousId`` as the log's text column; ``_Reject`` for a wrong type.

    A string (empty counts as absent) or a non-bool integer (stored as text).
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Reject("invalid_field", key)


def _row(
    item: dict[str, Any],
    kind: Any,
    shared: list[tuple[str, dict[str, Any]]],
    batch_sent_at: Any,
    times: TimeCorrector,
    received_at: datetime,
    source_id: int,
) -> LogRow:
    # The checks' order is the order the module docs promise for the reason.
    if kind is None:
        raise _Reject("missing_type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise _Reject("unknown_type")
    anonymous_id = _identifier(item.get("anonymousId"), "anonymousId")
    user_id = _identifier(item.get("userId"), "userId")
    if anonymous_id is None and user_id is None:
        raise _Reject("missing_id")
    message_id = item.get("messageId")
    if message_id is not None and not isinstance(message_id, str):
        raise _Reject("invalid_field", "messageId")
    for key, expected in _TYPED_FIELDS:
        value = item.get(key)
        if value is not None and not isinstance(value, expected):
            raise _Reject("invalid_field", key)
    sent = item.get("sentAt")
    if sent is None:
        sent = batch_sent_at
    original = item.get("timestamp")
    if original is None:
        original = item.get("originalTimestamp")
    try:
        timestamp = times.corrected(sent, original)
    except InvalidTime as invalid:
        raise _Reject("invalid_timestamp", invalid.field) from None

    # Every check passed: from here on the message is changed in place.
    message = item
    message.pop("writeKey", None)
    message["type"] = kind
    for key, outer in shared:
        inner = message.get(key)
        message[key] = {**outer, **inner} if inner else dict(outer)
    if not message_id:
        message_id = str(uuid.uuid4())
        message["messageId"] = message_id
    message["receivedAt"] = times.received_text
    if sent is not None:
        message["sentAt"] = sent
    if original is not None:
        message["originalTimestamp"] = original
    message["timestamp"] = timestamp
    try:
        payload = orjson.dumps(message)
    except orjson.JSONEncodeError:
        # The only value parsed JSON can hold that orjson will not write back.
        raise _Reject("too_deeply_nested") from None
    return LogRow(source_id, message_id, anonymous_id, user_id, kind, received_at, payload)
