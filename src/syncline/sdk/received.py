"""A read-only view of a received Segment-style message.

The collector accepts messages in the Segment tracking format (``track``,
``identify``, ``page``, ``screen``, ``group``, ``alias``) and the delivery engine
hands each destination pipeline a :class:`ReceivedEvent` wrapping one of them. A
connector reads it; it can never change it, so one received message can be shared
by every pipeline that delivers it.

Cost choice, because this runs for every delivered event:

* Identifiers, the type and the four timestamps are checked and parsed once, at
  construction (a handful of dict look-ups and at most four
  ``datetime.fromisoformat`` calls, all in C).
* ``properties``, ``traits``, ``context`` and ``integrations`` are frozen lazily:
  the first access to one of them builds a read-only deep copy of that field
  (nested objects become read-only dicts, arrays become tuples) and caches it on
  the view, so a field that is never read costs nothing and a field read many
  times is copied once. The frozen values are ``dict`` subclasses, so ``json``
  and ``orjson`` encode them directly; every mutating method raises
  ``TypeError``. ``.copy()`` on one returns a plain, mutable, shallow ``dict``.
* :meth:`ReceivedEvent.raw` returns a fresh deep copy of the whole message each
  time; use it when the connector needs a mutable message.

:meth:`ReceivedEvent.from_message` takes ownership of the dict it is given: the
caller must not modify it afterwards (it is not copied, which is what keeps
construction cheap).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
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
_TIME_FIELDS: Final = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")
_OBJECT_FIELDS: Final = ("properties", "traits", "context", "integrations")


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


def _identifier(message: Mapping[str, Any], key: str) -> str | None:
    value = message.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # Several Segment clients accept numeric user IDs and send them as numbers.
        return str(value)
    raise ValueError(f"received message field {key!r} must be a string, got {type(value).__name__}")


class ReceivedEvent:
    """A read-only view of one received Segment-style message.

    Build it with :meth:`from_message`. Attributes mirror the Segment fields in
    snake case; an optional field that is absent (or null) in the message is
    ``None``. Date-times are timezone-aware and in UTC.

    Always present: ``type`` (one of :data:`EVENT_TYPES`) and ``message_id``; at
    least one of ``anonymous_id`` and ``user_id`` (numeric IDs are turned into
    strings).
    """

    __slots__ = (
        "_anonymous_id",
        "_frozen",
        "_message",
        "_message_id",
        "_original_timestamp",
        "_received_at",
        "_sent_at",
        "_timestamp",
        "_type",
        "_user_id",
    )

    _type: str
    _message_id: str
    _anonymous_id: str | None
    _user_id: str | None
    _timestamp: datetime | None
    _original_timestamp: datetime | None
    _sent_at: datetime | None
    _received_at: datetime | None
    _message: dict[str, Any]
    _frozen: dict[str, Any] | None

    def __init__(self, message: dict[str, Any]) -> None:
        """Same as :meth:`from_message`."""
        if not isinstance(message, dict):
            raise TypeError(f"a received message must be a dict, got {type(message).__name__}")
        kind = message.get("type")
        if kind not in EVENT_TYPES:
            raise ValueError(
                "received message field 'type' must be one of "
                f"{', '.join(sorted(EVENT_TYPES))}; got {repr(kind)[:40]}"
            )
        message_id = message.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            raise ValueError(
                "received message has no 'messageId' (a non-empty string); "
                "the collector must assign one before queueing"
            )
        anonymous_id = _identifier(message, "anonymousId")
        user_id = _identifier(message, "userId")
        if not anonymous_id and not user_id:
            raise ValueError("received message needs an 'anonymousId' or a 'userId'")
        for key in _STRING_FIELDS:
            value = message.get(key)
            if value is not None and not isinstance(value, str):
                raise ValueError(
                    f"received message field {key!r} must be a string, got {type(value).__name__}"
                )
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
        self._message = message
        self._frozen = None

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> ReceivedEvent:
        """Wrap ``message`` (a decoded Segment message) without copying it.

        Raises ``ValueError`` when the message lacks a valid ``type``, a
        ``messageId``, both ``anonymousId`` and ``userId``, or has a field of the
        wrong JSON type or a timestamp that is not ISO 8601. The caller gives up
        the dict: it must not be modified afterwards.
        """
        return cls(message)

    # Identity and type.

    @property
    def type(self) -> str:
        """The message type: track, identify, page, screen, group or alias."""
        return self._type

    @property
    def message_id(self) -> str:
        """The client's unique message ID (the idempotency key of the event)."""
        return self._message_id

    @property
    def anonymous_id(self) -> str | None:
        """The anonymous ID, or None when only a user ID was sent."""
        return self._anonymous_id

    @property
    def user_id(self) -> str | None:
        """The user ID, or None for an anonymous user."""
        return self._user_id

    # Times, all timezone-aware UTC.

    @property
    def timestamp(self) -> datetime | None:
        """When the event happened, corrected for client clock skew."""
        return self._timestamp

    @property
    def original_timestamp(self) -> datetime | None:
        """When the event happened by the client's clock."""
        return self._original_timestamp

    @property
    def sent_at(self) -> datetime | None:
        """When the client sent the message."""
        return self._sent_at

    @property
    def received_at(self) -> datetime | None:
        """When the collector received the message."""
        return self._received_at

    # Optional strings.

    @property
    def event(self) -> str | None:
        """The event name of a track call."""
        return self._message.get("event")

    @property
    def name(self) -> str | None:
        """The page or screen name."""
        return self._message.get("name")

    @property
    def category(self) -> str | None:
        """The page category."""
        return self._message.get("category")

    @property
    def channel(self) -> str | None:
        """The channel the message came from (``server``, ``browser``, ``mobile``)."""
        return self._message.get("channel")

    @property
    def group_id(self) -> str | None:
        """The group ID of a group call."""
        return self._message.get("groupId")

    @property
    def previous_id(self) -> str | None:
        """The previous ID of an alias call."""
        return self._message.get("previousId")

    # Read-only objects.

    def _object(self, key: str) -> Mapping[str, Any] | None:
        frozen = self._frozen
        if frozen is None:
            frozen = self._frozen = {}
        elif key in frozen:
            return frozen[key]  # type: ignore[no-any-return]
        value = self._message.get(key)
        result = None if value is None else _freeze(value)
        frozen[key] = result
        return result

    @property
    def properties(self) -> Mapping[str, Any] | None:
        """The properties of a track, page or screen call (read-only)."""
        return self._object("properties")

    @property
    def traits(self) -> Mapping[str, Any] | None:
        """The traits of an identify or group call (read-only)."""
        return self._object("traits")

    @property
    def context(self) -> Mapping[str, Any] | None:
        """The context: library, ip, userAgent, page, device, locale, traits… (read-only)."""
        return self._object("context")

    @property
    def integrations(self) -> Mapping[str, Any] | None:
        """The per-destination switches, e.g. ``{"All": false, "Mixpanel": true}`` (read-only)."""
        return self._object("integrations")

    def raw(self) -> dict[str, Any]:
        """Return a mutable deep copy of the whole message, as received."""
        return _thaw(self._message)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        # Identifiers only: no traits or properties, which may hold personal data.
        return f"ReceivedEvent(type={self._type!r}, message_id={self._message_id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReceivedEvent):
            return NotImplemented
        return self._message == other._message

    __hash__ = None  # type: ignore[assignment]
