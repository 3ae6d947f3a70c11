"""Builders for connector unit tests: ``Records``, ``Events`` and call reports.

A connector test builds the iterator its method receives, calls the method, and
reads back what happened to each item::

    records = records_from([{"email": "new@example.com"}, ("42", {"email": "a@example.com"})])
    result = await report_of(connector.upsert("users", records, schema), records)
    assert result.succeeded == result.consumed

The report is computed by the engine's own ``close()``, so a test sees exactly
what the export or delivery engine would do with the call's items.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from syncline.sdk.events import Event, Events, EventTypeInfo
from syncline.sdk.received import ReceivedEvent
from syncline.sdk.records import ConsumableItems, IteratorMisuse, Record, Records

if TYPE_CHECKING:
    from syncline.types import Object

__all__ = [
    "DEFAULT_ANONYMOUS_ID",
    "CallReport",
    "events_from",
    "message",
    "received_event",
    "records_from",
    "report",
    "report_of",
]

T = TypeVar("T")

DEFAULT_ANONYMOUS_ID: Final = "anonymous-1"
"""The anonymous ID of built messages that name neither an anonymous nor a user ID."""

# Python keyword names accepted by message() and received_event() for the
# camel-case Segment fields.
_CAMEL: Final = {
    "anonymous_id": "anonymousId",
    "user_id": "userId",
    "message_id": "messageId",
    "group_id": "groupId",
    "previous_id": "previousId",
    "original_timestamp": "originalTimestamp",
    "sent_at": "sentAt",
    "received_at": "receivedAt",
}


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message(type: str = "track", **fields: Any) -> dict[str, Any]:
    """Return a complete Segment-style message dict of ``type``.

    ``fields`` use Segment names (``anonymousId``) or their snake-case form
    (``anonymous_id``); datetimes become ISO 8601 strings in UTC. Missing fields
    are filled: ``messageId`` with a fresh UUID, ``anonymousId`` with
    :data:`DEFAULT_ANONYMOUS_ID` when no user ID is given either (so built events
    share one user unless told otherwise), ``timestamp`` with the current time
    and ``originalTimestamp``, ``sentAt`` and ``receivedAt`` with ``timestamp``,
    and the ``event`` of a track call with ``"Test Event"``. For byte-exact
    request snapshots pass ``message_id`` and ``timestamp`` explicitly.
    """
    msg: dict[str, Any] = {"type": type}
    for key, value in fields.items():
        msg[_CAMEL.get(key, key)] = _iso(value) if isinstance(value, datetime) else value
    return _complete(msg)


def _complete(msg: dict[str, Any]) -> dict[str, Any]:
    msg.setdefault("messageId", str(uuid.uuid4()))
    if msg.get("anonymousId") is None and msg.get("userId") is None:
        msg["anonymousId"] = DEFAULT_ANONYMOUS_ID
    timestamp = msg.setdefault("timestamp", _iso(datetime.now(UTC)))
    for key in ("originalTimestamp", "sentAt", "receivedAt"):
        msg.setdefault(key, timestamp)
    if msg.get("type") == "track":
        msg.setdefault("event", "Test Event")
    return msg


def received_event(type: str = "track", **fields: Any) -> ReceivedEvent:
    """Return a :class:`ReceivedEvent` of ``type``, filled as :func:`message` does."""
    return ReceivedEvent.from_message(message(type, **fields))


def records_from(
    items: Iterable[Record | Mapping[str, Any] | tuple[str, Mapping[str, Any]]],
    *,
    updated_at: datetime | None = None,
) -> Records:
    """Return a :class:`Records` over ``items``, as ``upsert`` would receive it.

    Each item is a :class:`Record` (kept as is), a mapping of attributes (a
    record to create: empty ID) or an ``(id, attributes)`` pair (a record to
    update when ``id`` is not empty). Attributes are copied, so a test's dicts
    are never modified by the connector. ``updated_at`` is given to built
    records.
    """
    built: list[Record] = []
    for item in items:
        if isinstance(item, Record):
            built.append(item)
        elif isinstance(item, tuple):
            record_id, attributes = item
            built.append(Record(record_id, dict(attributes), updated_at))
        else:
            built.append(Record("", dict(item), updated_at))
    return Records(built)


def events_from(
    messages: Iterable[Event | ReceivedEvent | Mapping[str, Any]],
    *,
    type_id: str = "default",
    values: Mapping[str, Any] | Callable[[ReceivedEvent], dict[str, Any] | None] | None = None,
    schema: Object | None = None,
    pipeline: str = "pipeline-1",
) -> Events:
    """Return an :class:`Events` over ``messages``, as ``send_events`` would receive it.

    Each item is an :class:`Event` (kept as is), a :class:`ReceivedEvent`, or a
    message dict (completed as :func:`message` does; given fields are kept).
    Built events get the event type ``type_id`` with ``schema`` and their
    ``values``: a copy of the ``values`` mapping, or ``values(received)`` when it
    is a callable, or None. ``pipeline`` is the destination pipeline ID.
    """
    built: list[Event] = []
    for item in messages:
        if isinstance(item, Event):
            built.append(item)
            continue
        if isinstance(item, ReceivedEvent):
            received = item
        else:
            received = ReceivedEvent.from_message(_complete(dict(item)))
        if values is None:
            event_values = None
        elif callable(values):
            event_values = values(received)
        else:
            event_values = dict(values)
        built.append(Event(pipeline, received, EventTypeInfo(type_id, schema, event_values)))
    return Events(built)


@dataclass(frozen=True, slots=True)
class CallReport(Generic[T]):
    """What one ``upsert`` or ``send_events`` call did with each item.

    ``consumed`` lists the items read and kept, in yield order (they are in
    ``succeeded`` or ``failed``). ``postponed`` and ``unread`` (never yielded)
    together make ``remaining``, in original order, which the next call would
    receive. ``discarded`` and ``failed`` pair items with their errors.
    ``error`` is what the call raised; ``violation`` is the engine's description
    of a contract breach (None when the call kept the contract).
    """

    consumed: list[T]
    succeeded: list[T]
    failed: list[tuple[T, BaseException]]
    discarded: list[tuple[T, Exception]]
    postponed: list[T]
    unread: list[T]
    remaining: list[T]
    error: BaseException | None
    violation: str | None


def report(items: ConsumableItems[T], error: BaseException | None = None) -> CallReport[T]:
    """Close ``items`` as the engine would after a call that raised ``error``.

    ``items`` is unusable afterwards, exactly as after a real call.
    """
    consumed, postponed, unread = items._read_back()
    outcome = items.close(error)
    return CallReport(
        consumed=consumed,
        succeeded=outcome.succeeded,
        failed=outcome.failed,
        discarded=outcome.discarded,
        postponed=postponed,
        unread=unread,
        remaining=outcome.remaining,
        error=outcome.error,
        violation=outcome.violation,
    )


async def report_of(call: Awaitable[object], items: ConsumableItems[T]) -> CallReport[T]:
    """Await a connector call made with ``items`` and report what it did.

    An exception the call raises is recorded in the report (``error``), as the
    engine records it, except :class:`IteratorMisuse`, which is raised again after
    closing: misusing the iterator is a bug the test must show.
    """
    try:
        await call
    except IteratorMisuse as misuse:
        items.close(misuse)
        raise
    except Exception as error:
        return report(items, error)
    return report(items)
