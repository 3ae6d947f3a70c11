"""A read-only view of a received Segment-style message.

The collector accepts messages in the Segment tracking format (``track``,
``identify``, ``page``, ``screen``, ``group``, ``alias``) and the delivery engine
hands each destination pipeline a :class:`ReceivedEvent` wrapping one of them. A
connector reads it; it can never change it, so one received message can be shared
by every pipeline that delivers it.

Two ways to build one, because this runs for every delivered event:

* :meth:`ReceivedEvent.from_message` checks the whole message at construction
  (a handful of dict look-ups and at most four ``datetime.fromisoformat``
  calls) and raises ``ValueError`` for an invalid one: use it for messages of
  unknown origin.
* :meth:`ReceivedEvent.from_normalized` checks nothing at construction: each
  attribute is checked and decoded on its first read and cached, with the very
  ``ValueError`` :meth:`~ReceivedEvent.from_message` would raise for that field.
  The delivery engine uses it for messages the collector already normalized
  (what the event log stores), so a connector that reads three fields pays for
  three. For a message :meth:`~ReceivedEvent.from_message` accepts, both give
  views that are equal attribute by attribute.

``properties``, ``traits``, ``context`` and ``integrations`` are frozen lazily
either way: the first access to one of them builds a read-only deep copy of
that field (nested objects become read-only dicts, arrays become tuples) and
caches it on the view, so a field that is never read costs nothing and a field
read many times is copied once. The frozen values are ``dict`` subclasses, so
``json`` and ``orjson`` encode them directly; every mutating method raises
``TypeError``. ``.copy()`` on one returns a plain, mutable, shallow ``dict``.
:meth:`ReceivedEvent.raw` returns a fresh deep copy of the whole message each
time; use it when the connector needs a mutable message.

Both constructors take ownership of the dict they are given: the caller must
not modify it afterwards (it is not copied, which is what keeps construction
cheap). The view never modifies it either, so one decoded message may back
several views.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final, NoReturn

__all__ = ["EVENT_TYPES", "ReceivedEvent"]

EVENT_TYPES: Final = frozenset({"track", "identify", "page", "screen", "group", "alias"})
"""The message types of the Segment tracking API."""

# Optional top-level fields that hold a string when present.
_STRING_FIELDS: Final = (
    "event",
    "name",
    "category",
    "channel",
    "groupId",
    "previousId",
)
_OBJECT_FIELDS: Final = ("properties", "traits", "context", "integrations")


class _Unset(Enum):
    """The value of a view's field not decoded yet."""

    UNSET = 0


# A sentinel rather than an empty slot: reading an empty slot raises an
# AttributeError, which costs more than filling every slot up front.
_UNSET: Final = _Unset.UNSET


class _FrozenDict(dict[str, Any]):
    """A ``dict`` whose mutating methods raise; built only by :func:`_freeze`."""

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(
            "a received event is read-only: copy the value first "
            "(dict(value), value.copy() or event.received.raw())"
        )

    __setitem__ = _read_only
    __delitem__ = _read_only
    __ior__ = _read_only
    clear = _read_only
    pop = _read_only
    popitem = _read_only
    setdefault = _read_only
    update = _read_only

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return _thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        # Pickle (and copy's generic path) as a plain dict: rebuilding a
        # _FrozenDict item by item would call the blocked __setitem__.
        return (dict, (_thaw(self),))


# JSON scalars are immutable: copying skips the recursive call for them.
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def _freeze(value: Any) -> Any:
    """Return a read-only deep copy of a JSON-like value (dicts, lists, scalars)."""
    if isinstance(value, dict):
        # The common object holds scalars only: test that and copy it in C.
        if _SCALARS.issuperset(map(type, value.values())):
            return _FrozenDict(value)
        return _FrozenDict({k: v if type(v) in _SCALARS else _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple([v if type(v) in _SCALARS else _freeze(v) for v in value])
    return value


def _thaw(value: Any) -> Any:
    """Return a mutable deep copy of a JSON-like value (dicts and lists are copied)."""
    if isinstance(value, dict):
        return {k: v if type(v) in _SCALARS else _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in _SCALARS else _thaw(v) for v in value]
    return value


def _parse_time(message: Mapping[str, Any], key: str) -> datetime | None:
    value = message.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"received message field {key!r} is not an ISO 8601 date-time; "
                "the collector must normalize timestamps before queueing"
            ) from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise ValueError(
            f"received message field {key!r} must be an ISO 8601 string or a datetime, "
            f"got {type(value).__name__}"
        )
    if parsed.tzinfo is None:
        # Segment clients always send an offset; a naive value can only be UTC.
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _check_type(message: Mapping[str, Any]) -> str:
    kind = message.get("type")
    if kind not in EVENT_TYPES:
        raise ValueError(
            "received message field 'type' must be one of "
            f"{', '.join(sorted(EVENT_TYPES))}; got {repr(kind)[:40]}"
        )
    return kind  # type: ignore[no-any-return]


def _check_message_id(message: Mapping[str, Any]) -> str:
    message_id = message.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise ValueError(
            "received message has no 'messageId' (a non-empty string); "
            "the collector must assign one before queueing"
        )
    return message_id


def _identifier(message: Mapping[str, Any], key: str) -> str | None:
    value = message.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # Several Segment clients accept numeric user IDs and send them as numbers.
        return str(value)
    raise ValueError(f"received message field {key!r} must be a string, got {type(value).__name__}")


def _identifiers(message: Mapping[str, Any]) -> tuple[str | None, str | None]:
    anonymous_id = _identifier(message, "anonymousId")
    user_id = _identifier(message, "userId")
    if not anonymous_id and not user_id:
        raise ValueError("received message needs an 'anonymousId' or a 'userId'")
    return anonymous_id, user_id


def _string(message: Mapping[str, Any], key: str) -> str | None:
    value = message.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"received message field {key!r} must be a string, got {type(value).__name__}")


def _object(message: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = message.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(
            f"received message field {key!r} must be an object, got {type(value).__name__}"
        )
    return _freeze(value)  # type: ignore[no-any-return]


class ReceivedEvent:
    """A read-only view of one received Segment-style message.

    Build it with :meth:`from_message` (checked at once) or
    :meth:`from_normalized` (checked field by field as read). Attributes mirror
    the Segment fields in snake case; an optional field that is absent (or null)
    in the message is ``None``. Date-times are timezone-aware and in UTC.

    Always present: ``type`` (one of :data:`EVENT_TYPES`) and ``message_id``; at
    least one of ``anonymous_id`` and ``user_id`` (numeric IDs are turned into
    strings).
    """

    # Every slot but _message holds _UNSET until its field is first read;
    # from_message decodes the identifiers and times at once.
    __slots__ = (
        "_anonymous_id",
        "_context",
        "_integrations",
        "_message",
        "_message_id",
        "_original_timestamp",
        "_properties",
        "_received_at",
        "_sent_at",
        "_timestamp",
        "_traits",
        "_type",
        "_user_id",
    )

    _type: str | _Unset
    _message_id: str | _Unset
    _anonymous_id: str | _Unset | None
    _user_id: str | _Unset | None
    _timestamp: datetime | _Unset | None
    _original_timestamp: datetime | _Unset | None
    _sent_at: datetime | _Unset | None
    _received_at: datetime | _Unset | None
    _properties: Mapping[str, Any] | _Unset | None
    _traits: Mapping[str, Any] | _Unset | None
    _context: Mapping[str, Any] | _Unset | None
    _integrations: Mapping[str, Any] | _Unset | None
    _message: dict[str, Any]

    def __init__(self, message: dict[str, Any]) -> None:
        """Same as :meth:`from_message`."""
        if not isinstance(message, dict):
            raise TypeError(f"a received message must be a dict, got {type(message).__name__}")
        kind = _check_type(message)
        message_id = _check_message_id(message)
        anonymous_id, user_id = _identifiers(message)
        for key in _STRING_FIELDS:
            _string(message, key)
        for key in _OBJECT_FIELDS:
            value = message.get(key)
            if value is not None and not isinstance(value, dict):
                raise ValueError(
                    f"received message field {key!r} must be an object, got {type(value).__name__}"
                )
        self._type = kind
        self._message_id = message_id
        self._anonymous_id = anonymous_id
        self._user_id = user_id
        self._timestamp = _parse_time(message, "timestamp")
        self._original_timestamp = _parse_time(message, "originalTimestamp")
        self._sent_at = _parse_time(message, "sentAt")
        self._received_at = _parse_time(message, "receivedAt")
        self._properties = self._traits = self._context = self._integrations = _UNSET
        self._message = message

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> ReceivedEvent:
        """Wrap ``message`` (a decoded Segment message) without copying it.

        Raises ``TypeError`` when ``message`` is not a dict, and ``ValueError``
        when it lacks a valid ``type``, a ``messageId``, both ``anonymousId`` and
        ``userId``, or has a field of the wrong JSON type or a timestamp that is
        not ISO 8601. The caller gives up the dict: it must not be modified
        afterwards.
        """
        return cls(message)

    @classmethod
    def from_normalized(cls, message: dict[str, Any]) -> ReceivedEvent:
        """Wrap ``message``, a message the collector normalized, checking nothing yet.

        For the delivery engine, whose messages come from the event log. Raises
        ``TypeError`` when ``message`` is not a dict; every other check of
        :meth:`from_message` is made when the attribute it concerns is first
        read, which then raises the same ``ValueError`` (``type``, ``message_id``,
        ``anonymous_id``/``user_id`` — both checked together —, each optional
        string, object and time). A field never read is never checked. The
        caller gives up the dict: it must not be modified afterwards.
        """
        if not isinstance(message, dict):
            raise TypeError(f"a received message must be a dict, got {type(message).__name__}")
        view = _new(cls)
        view._message = message
        view._type = view._message_id = view._anonymous_id = view._user_id = _UNSET
        view._timestamp = view._original_timestamp = view._sent_at = view._received_at = _UNSET
        view._properties = view._traits = view._context = view._integrations = _UNSET
        return view

    # Identity and type.

    @property
    def type(self) -> str:
        """The message type: track, identify, page, screen, group or alias."""
        kind = self._type
        if kind is _UNSET:
            kind = self._type = _check_type(self._message)
        return kind

    @property
    def message_id(self) -> str:
        """The client's unique message ID (the idempotency key of the event)."""
        message_id = self._message_id
        if message_id is _UNSET:
            message_id = self._message_id = _check_message_id(self._message)
        return message_id

    @property
    def anonymous_id(self) -> str | None:
        """The anonymous ID, or None when only a user ID was sent."""
        value = self._anonymous_id
        if value is _UNSET:
            value, user_id = _identifiers(self._message)
            self._anonymous_id, self._user_id = value, user_id
        return value

    @property
    def user_id(self) -> str | None:
        """The user ID, or None for an anonymous user."""
        value = self._user_id
        if value is _UNSET:
            anonymous_id, value = _identifiers(self._message)
            self._anonymous_id, self._user_id = anonymous_id, value
        return value

    # Times, all timezone-aware UTC.

    @property
    def timestamp(self) -> datetime | None:
        """When the event happened, corrected for client clock skew."""
        value = self._timestamp
        if value is _UNSET:
            value = self._timestamp = _parse_time(self._message, "timestamp")
        return value

    @property
    def original_timestamp(self) -> datetime | None:
        """When the event happened by the client's clock."""
        value = self._original_timestamp
        if value is _UNSET:
            value = self._original_timestamp = _parse_time(self._message, "originalTimestamp")
        return value

    @property
    def sent_at(self) -> datetime | None:
        """When the client sent the message."""
        value = self._sent_at
        if value is _UNSET:
            value = self._sent_at = _parse_time(self._message, "sentAt")
        return value

    @property
    def received_at(self) -> datetime | None:
        """When the collector received the message."""
        value = self._received_at
        if value is _UNSET:
            value = self._received_at = _parse_time(self._message, "receivedAt")
        return value

    # Optional strings: read straight from the message (checked again on each
    # read, which costs one type test; from_message has checked them anyway).

    @property
    def event(self) -> str | None:
        """The event name of a track call."""
        return _string(self._message, "event")

    @property
    def name(self) -> str | None:
        """The page or screen name."""
        return _string(self._message, "name")

    @property
    def category(self) -> str | None:
        """The page category."""
        return _string(self._message, "category")

    @property
    def channel(self) -> str | None:
        """The channel the message came from (``server``, ``browser``, ``mobile``)."""
        return _string(self._message, "channel")

    @property
    def group_id(self) -> str | None:
        """The group ID of a group call."""
        return _string(self._message, "groupId")

    @property
    def previous_id(self) -> str | None:
        """The previous ID of an alias call."""
        return _string(self._message, "previousId")

    # Read-only objects, frozen on first read and cached.

    @property
    def properties(self) -> Mapping[str, Any] | None:
        """The properties of a track, page or screen call (read-only)."""
        value = self._properties
        if value is _UNSET:
            value = self._properties = _object(self._message, "properties")
        return value

    @property
    def traits(self) -> Mapping[str, Any] | None:
        """The traits of an identify or group call (read-only)."""
        value = self._traits
        if value is _UNSET:
            value = self._traits = _object(self._message, "traits")
        return value

    @property
    def context(self) -> Mapping[str, Any] | None:
        """The context: library, ip, userAgent, page, device, locale, traits… (read-only)."""
        value = self._context
        if value is _UNSET:
            value = self._context = _object(self._message, "context")
        return value

    @property
    def integrations(self) -> Mapping[str, Any] | None:
        """The per-destination switches, e.g. ``{"All": false, "Mixpanel": true}`` (read-only)."""
        value = self._integrations
        if value is _UNSET:
            value = self._integrations = _object(self._message, "integrations")
        return value

    def raw(self) -> dict[str, Any]:
        """Return a mutable deep copy of the whole message, as received."""
        return _thaw(self._message)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        # Identifiers only: no traits or properties, which may hold personal
        # data. Read from the message, so a repr never raises a check's error.
        message = self._message
        return (
            f"ReceivedEvent(type={message.get('type')!r}, message_id={message.get('messageId')!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReceivedEvent):
            return NotImplemented
        return self._message == other._message

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # Pickle and copy rebuild the view from its message: the cached frozen
        # values would otherwise come back as plain, mutable dicts (see
        # _FrozenDict.__reduce__). The message was accepted once, so the
        # unchecked constructor gives an equal view.
        return (type(self).from_normalized, (self._message,))


_new = object.__new__
