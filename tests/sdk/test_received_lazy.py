"""ReceivedEvent.from_normalized (checked on read) against from_message (checked at once).

The delivery engine builds its views with ``from_normalized``; a connector
must not be able to tell the two apart for any message ``from_message``
accepts, and reading a field of a message it refuses must raise the very error
``from_message`` raises for that field.
"""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncline.sdk.received import EVENT_TYPES, ReceivedEvent

ATTRIBUTES = (
    "type",
    "message_id",
    "anonymous_id",
    "user_id",
    "timestamp",
    "original_timestamp",
    "sent_at",
    "received_at",
    "event",
    "name",
    "category",
    "channel",
    "group_id",
    "previous_id",
    "properties",
    "traits",
    "context",
    "integrations",
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=12,
)
objects = st.dictionaries(st.text(max_size=4), json_values, max_size=4)
# Naive, UTC and a negative offset with minutes: every case of _parse_time.
ZONES: list[tzinfo | None] = [None, UTC, timezone(timedelta(hours=-5, minutes=-30))]
times = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from(ZONES),
)
IDENTIFIERS: list[dict[str, Any]] = [
    {"userId": "u"},
    {"anonymousId": "a"},
    {"userId": 42, "anonymousId": None},
]
valid_times = st.none() | times.map(datetime.isoformat) | times
valid_strings = st.none() | st.text(max_size=4)
valid_objects = st.none() | objects
# Accepted messages: a type, a message ID and at least one identifier.
valid = st.fixed_dictionaries(
    {
        "type": st.sampled_from(sorted(EVENT_TYPES)),
        "messageId": st.text(min_size=1, max_size=4),
    },
    optional={
        "event": valid_strings,
        "name": valid_strings,
        "category": valid_strings,
        "channel": valid_strings,
        "groupId": valid_strings,
        "previousId": valid_strings,
        "timestamp": valid_times | times.map(lambda t: t.isoformat().replace("+00:00", "Z")),
        "originalTimestamp": valid_times,
        "sentAt": valid_times,
        "receivedAt": valid_times,
        "properties": valid_objects,
        "traits": valid_objects,
        "context": valid_objects,
        "integrations": valid_objects,
    },
).flatmap(lambda message: st.sampled_from(IDENTIFIERS).map(lambda ids: {**message, **ids}))
# Ways to break one field, so that refused messages are drawn too.
breakages = st.sampled_from(
    [
        ("type", "click"),
        ("type", None),
        ("messageId", ""),
        ("messageId", 5),
        ("userId", ["u"]),
        ("anonymousId", True),
        ("event", 3),
        ("groupId", 1.5),
        ("properties", [1]),
        ("context", "c"),
        ("timestamp", "yesterday"),
        ("receivedAt", "2026-13-01T00:00:00Z"),
        ("sentAt", 1700000000),
    ]
)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    message: dict[str, Any] = draw(valid)
    for key, value in draw(st.lists(breakages, max_size=2)):
        message[key] = value
    if draw(st.booleans()) and "anonymousId" not in message:
        message.pop("userId", None)  # neither identifier
    return message


def read(view: ReceivedEvent, attribute: str) -> tuple[str, Any]:
    """("ok", the value) or ("error", the error's type and message)."""
    try:
        return "ok", getattr(view, attribute)
    except (ValueError, TypeError) as error:
        return "error", (type(error).__name__, str(error))


def encoded(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value)) if isinstance(value, dict) else value


@settings(max_examples=300, deadline=None)
@given(messages(), st.permutations(ATTRIBUTES))
def test_lazy_view_equals_the_checked_one(message: dict[str, Any], order: list[str]) -> None:
    before = copy.deepcopy(message)
    lazy = ReceivedEvent.from_normalized(message)
    # Read in a random order: a field's check must not depend on what was read first.
    lazy_reads = {attribute: read(lazy, attribute) for attribute in order}
    try:
        checked = ReceivedEvent.from_message(copy.deepcopy(message))
    except ValueError as error:
        # Refused at once: reading the field it names raises the same error
        # from the lazy view (and every field that reads fine is the same too).
        refusal = ("ValueError", str(error))
        assert refusal in [outcome for kind, outcome in lazy_reads.values() if kind == "error"]
    else:
        for attribute in ATTRIBUTES:
            kind, value = lazy_reads[attribute]
            assert kind == "ok", (attribute, value)
            expected = getattr(checked, attribute)
            assert encoded(value) == encoded(expected), attribute
            assert type(value) is type(expected), attribute
            if isinstance(value, datetime):
                assert value.tzinfo is UTC
        assert lazy == checked and repr(lazy) == repr(checked)
        assert lazy.raw() == checked.raw()
    assert message == before  # neither view changes the message it wraps


@settings(max_examples=100, deadline=None)
@given(objects)
def test_frozen_objects_are_deep_read_only_copies(properties: dict[str, Any]) -> None:
    # Covers both freezing routes: scalars-only objects (copied in one step)
    # and objects with nested values (copied recursively).
    message = {"type": "track", "messageId": "m", "userId": "u", "properties": properties}
    before = copy.deepcopy(properties)
    frozen: Any = ReceivedEvent.from_normalized(message).properties
    assert frozen is not None and frozen is not properties
    assert orjson.loads(orjson.dumps(frozen)) == orjson.loads(orjson.dumps(properties))
    with pytest.raises(TypeError, match="read-only"):
        frozen["new"] = 1
    for value in frozen.values():
        assert not isinstance(value, list)
        if isinstance(value, dict):
            with pytest.raises(TypeError, match="read-only"):
                value["new"] = 1
    assert properties == before


def test_fields_are_decoded_once_and_cached() -> None:
    view = ReceivedEvent.from_normalized(
        {
            "type": "track",
            "messageId": "m",
            "userId": 7,
            "timestamp": "2026-03-01T10:00:00+01:00",
            "properties": {"a": 1},
        }
    )
    assert view.timestamp is view.timestamp == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert view.properties is view.properties
    assert view.user_id == "7" and view.anonymous_id is None


def test_a_bad_field_raises_only_when_read() -> None:
    view = ReceivedEvent.from_normalized(
        {"type": "track", "messageId": "m", "userId": "u", "sentAt": "soon", "event": 5}
    )
    assert view.message_id == "m" and view.timestamp is None
    with pytest.raises(ValueError, match="'sentAt' is not an ISO 8601 date-time"):
        _ = view.sent_at
    with pytest.raises(ValueError, match="'event' must be a string, got int"):
        _ = view.event
    # A repr never raises, whatever the message holds.
    assert repr(ReceivedEvent.from_normalized({"type": 3})) == (
        "ReceivedEvent(type=3, message_id=None)"
    )
    with pytest.raises(ValueError, match="needs an 'anonymousId' or a 'userId'"):
        _ = ReceivedEvent.from_normalized({"type": "track", "messageId": "m"}).user_id


def test_not_a_dict_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="must be a dict, got list"):
        ReceivedEvent.from_normalized([("type", "track")])  # type: ignore[arg-type]


def test_lazy_views_are_read_only_copyable_and_pickle() -> None:
    message = {"type": "identify", "messageId": "m", "anonymousId": "a", "traits": {"k": [1]}}
    view = ReceivedEvent.from_normalized(message)
    with pytest.raises(AttributeError):
        view.user_id = "other"  # type: ignore[misc]
    assert view.traits == {"k": (1,)}
    for again in (pickle.loads(pickle.dumps(view)), copy.copy(view), copy.deepcopy(view)):
        assert again == view and again.traits == {"k": (1,)} and again.user_id is None
