"""Events to deliver and the consumable ``Events`` iterator handed to ``send_events``.

An :class:`Event` is a received message (:class:`ReceivedEvent`, read-only) plus
what one destination pipeline computed for the connector's event type
(:class:`EventTypeInfo`). The delivery engine builds one :class:`Events` value per
``send_events`` call over the destination's pending events; the connector reads as
many as fit in one request, with the same rules as ``Records`` (see
:mod:`syncline.sdk.records`), and the engine closes it to get an ``Outcome``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from syncline.sdk.errors import EventsError
from syncline.sdk.received import ReceivedEvent
from syncline.sdk.records import ConsumableItems

if TYPE_CHECKING:
    from syncline.types import Object

__all__ = ["MAX_EVENT_TYPE_ID_LENGTH", "Event", "EventType", "EventTypeInfo", "Events"]

MAX_EVENT_TYPE_ID_LENGTH: Final = 100
"""The longest event type ID, in characters."""


@dataclass(frozen=True, slots=True)
class EventType:
    """One kind of event a connector can send, as listed by ``event_types()``.

    ``id`` is unique within the connector, 1 to 100 characters, and stays stable
    across versions (pipelines refer to it). ``name`` and ``description`` are shown
    in the console. ``default_filter`` is the filter a new pipeline for this type
    starts with, e.g. ``"type is 'track' and event is 'Order Completed'"``; None
    for no filter.
    """

    id: str
    name: str
    description: str = ""
    default_filter: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("EventType.id must be a non-empty string")
        if len(self.id) > MAX_EVENT_TYPE_ID_LENGTH:
            raise ValueError(
                f"EventType.id {self.id[:20]!r}… has {len(self.id)} characters; "
                f"the limit is {MAX_EVENT_TYPE_ID_LENGTH}: choose a shorter ID"
            )
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"EventType {self.id!r} needs a non-empty name")
        if not isinstance(self.description, str):
            raise ValueError(f"EventType {self.id!r}: description must be a string")
        if self.default_filter is not None and not isinstance(self.default_filter, str):
            raise ValueError(f"EventType {self.id!r}: default_filter must be a string or None")


@dataclass(frozen=True, slots=True)
class EventTypeInfo:
    """The connector's event type of one event, with the pipeline's values.

    ``schema`` is what ``event_type_schema(id)`` returned (None when the type
    needs no extra values, and then ``values`` is None too). ``values`` are the
    canonical values the pipeline's mapping computed for that schema; the
    connector may modify them once the event is yielded, but then it must not
    postpone the event.
    """

    id: str
    schema: Object | None
    values: dict[str, Any] | None

    def __repr__(self) -> str:
        # Value names only: values may be personal data and reprs end up in logs.
        shown = "None" if self.values is None else f"<{', '.join(self.values)}>"
        return f"EventTypeInfo(id={self.id!r}, values={shown})"


@dataclass(frozen=True, slots=True, init=False)
class Event:
    """One event to deliver: the received message and the event type's values.

    ``pipeline`` is the ID of the destination pipeline that produced it; one
    ``send_events`` call may mix pipelines and event types (use ``peek()`` to
    choose a request shape).
    """

    pipeline: str
    received: ReceivedEvent
    type: EventTypeInfo

    def __init__(self, pipeline: str, received: ReceivedEvent, type: EventTypeInfo) -> None:
        # One is built per delivered event: the slots are set through their
        # descriptors, which a frozen dataclass's generated __init__ reaches
        # only through object.__setattr__ (about twice the cost).
        _set_pipeline(self, pipeline)
        _set_received(self, received)
        _set_type(self, type)

    @property
    def idempotency_key(self) -> str:
        """The received ``messageId``: forward it as the app's idempotency key."""
        return self.received.message_id


_set_pipeline: Final[Callable[[Event, str], None]] = Event.__dict__["pipeline"].__set__
_set_received: Final[Callable[[Event, ReceivedEvent], None]] = Event.__dict__["received"].__set__
_set_type: Final[Callable[[Event, EventTypeInfo], None]] = Event.__dict__["type"].__set__


def _same_user(first: Event) -> Callable[[Event], bool]:
    anonymous_id = first.received.anonymous_id
    if anonymous_id is not None:
        return lambda event: event.received.anonymous_id == anonymous_id
    # A message without an anonymous ID is keyed by its user ID (the collector
    # requires one of the two), never grouped with other ID-less messages.
    user_id = first.received.user_id
    return lambda event: event.received.anonymous_id is None and event.received.user_id == user_id


class Events(ConsumableItems[Event]):
    """The events one ``send_events`` call may send, as a consumable iterator.

    ``same_user()`` yields only events of the first event's user — the same
    anonymous ID, or, when the first has none, no anonymous ID and the same user
    ID — and skips the others without consuming them, for APIs whose batches
    hold one user's events.

    An event's ``type.values`` may be modified once yielded, but then it cannot
    be postponed. Detection: at yield a shallow copy of ``type.values`` is kept
    (nothing when it is None) and compared with ``==`` on ``postpone()``, so
    adding, removing or replacing a key's value with an unequal one is detected;
    changing a nested list or dict in place is not (and is not allowed either).
    ``received`` is read-only and needs no check.

    Raise ``EventsError({index: error})`` after sending for per-event
    rejections; indexes count consumed events in yield order, leaving out
    postponed and discarded ones.
    """

    __slots__ = ()

    _noun = "event"
    _nouns = "events"
    _kind = "Events"
    _call = "send_events"
    _group_shape = "same_user()"
    _indexed_error = EventsError
    _modifiable = "type.values"

    def same_user(self) -> Iterator[Event]:
        """Yield the pending events of the first event's user, in order.

        Each is consumed once yielded; other users' events stay for a later
        call. Only one of ``all()``, ``same_user()`` and ``first()`` per call.
        """
        return self._same_group("same_user()")

    def _grouper(self, first: Event) -> Callable[[Event], bool]:
        return _same_user(first)

    def _snapshot_of(self, item: Event) -> object:
        values = item.type.values
        return None if values is None else values.copy()

    def _modified(self, item: Event, snapshot: object) -> bool:
        values = item.type.values
        return values is not None and values != snapshot
