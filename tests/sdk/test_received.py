"""ReceivedEvent: a read-only, cheaply built view of a Segment-style message."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncline.sdk.received import EVENT_TYPES, ReceivedEvent


def track(**extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "messageId": "m-1",
        "anonymousId": "anon-1",
        "event": "Order Completed",
        "timestamp": "2026-03-01T10:00:00.123Z",
        "properties": {"total": 12.5, "items": [{"sku": "A", "tags": ["x"]}], "coupon": None},
        "context": {"library": {"name": "analytics-python", "version": "2.3.4"}},
    }
    message.update(extra)
    return message


def test_fields() -> None:
    message = track(
        userId="user-9",
        originalTimestamp="2026-03-01T11:00:00.123+01:00",
        sentAt="2026-03-01T10:00:01Z",
        receivedAt="2026-03-01T10:00:02.5Z",
        channel="server",
        integrations={"All": False, "Mixpanel": True},
    )
    e = ReceivedEvent.from_message(message)
    assert (e.type, e.message_id, e.anonymous_id, e.user_id) == ("track", "m-1", "anon-1", "user-9")
    assert e.event == "Order Completed" and e.channel == "server"
    assert e.timestamp == datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert e.original_timestamp == e.timestamp
    assert e.original_timestamp is not None and e.original_timestamp.tzinfo is UTC
    assert e.sent_at == datetime(2026, 3, 1, 10, 0, 1, tzinfo=UTC)
    assert e.received_at == datetime(2026, 3, 1, 10, 0, 2, 500000, tzinfo=UTC)
    assert e.properties is not None and e.properties["total"] == 12.5
    assert e.integrations == {"All": False, "Mixpanel": True}
    # Absent optional fields are None.
    assert e.name is None and e.category is None and e.group_id is None
    assert e.previous_id is None and e.traits is None


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
def test_every_type_is_accepted(kind: str) -> None:
    assert ReceivedEvent.from_message({"type": kind, "messageId": "m", "userId": "u"}).type == kind


def test_naive_and_offset_times_become_utc() -> None:
    e = ReceivedEvent.from_message(
        track(
            timestamp="2026-03-01T10:00:00",
            sentAt=datetime(2026, 3, 1, 12, tzinfo=timezone(timedelta(hours=2))),
        )
    )
    assert e.timestamp == datetime(2026, 3, 1, 10, tzinfo=UTC) and e.timestamp.tzinfo is UTC
    assert e.sent_at == datetime(2026, 3, 1, 10, tzinfo=UTC) and e.sent_at.tzinfo is UTC


def test_numeric_ids_become_strings() -> None:
    e = ReceivedEvent.from_message({"type": "identify", "messageId": "m", "userId": 42})
    assert e.user_id == "42" and e.anonymous_id is None


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"type": "click"}, "field 'type' must be one of"),
        ({"type": None}, "field 'type' must be one of"),
        ({"messageId": ""}, "no 'messageId'"),
        ({"messageId": 5}, "no 'messageId'"),
        ({"anonymousId": None}, "needs an 'anonymousId' or a 'userId'"),
        ({"userId": ["u"]}, "'userId' must be a string, got list"),
        ({"event": 3}, "'event' must be a string, got int"),
        ({"properties": [1]}, "'properties' must be an object, got list"),
        ({"timestamp": "yesterday"}, "'timestamp' is not an ISO 8601 date-time"),
        ({"sentAt": 1700000000}, "'sentAt' must be an ISO 8601 string or a datetime, got int"),
    ],
)
def test_invalid_messages_are_refused(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words) as caught:
        ReceivedEvent.from_message(track(**change))
    # Errors name the field, never a personal value.
    assert "anon-1" not in str(caught.value)


def test_not_a_dict() -> None:
    with pytest.raises(TypeError, match="must be a dict"):
        ReceivedEvent.from_message([("type", "track")])  # type: ignore[arg-type]


def test_nested_values_cannot_be_mutated_through_the_view() -> None:
    message = track()
    e = ReceivedEvent.from_message(message)
    props: Any = e.properties  # a Mapping to the type checker; prove it at run time
    assert props is not None
    item = props["items"][0]
    attempts: list[Callable[[], object]] = [
        lambda: props.__setitem__("total", 0),
        lambda: props.__delitem__("total"),
        lambda: props.update(total=0),
        lambda: props.clear(),
        lambda: props.pop("total"),
        lambda: props.popitem(),
        lambda: props.setdefault("new", 1),
        lambda: props.__ior__({"total": 0}),
        lambda: item.__setitem__("sku", "B"),
    ]
    for attempt in attempts:
        with pytest.raises(TypeError, match="read-only"):
            attempt()
    with pytest.raises(AttributeError):
        item["tags"].append("y")  # arrays are tuples
    with pytest.raises(AttributeError):
        e.user_id = "other"  # type: ignore[misc]
    assert message["properties"]["items"][0] == {"sku": "A", "tags": ["x"]}
    assert props["total"] == 12.5


def test_mapping_fields_are_frozen_once_and_cached() -> None:
    e = ReceivedEvent.from_message(track())
    assert e.properties is e.properties
    assert e.context is e.context
    assert e.traits is None and e.traits is None


def test_frozen_values_encode_as_json_and_copy_to_mutable_dicts() -> None:
    message = track()
    e = ReceivedEvent.from_message(message)
    props = e.properties
    assert props is not None
    assert orjson.loads(orjson.dumps(props)) == message["properties"]
    assert json.loads(json.dumps(props)) == message["properties"]
    shallow = props.copy()  # type: ignore[attr-defined]
    shallow["total"] = 1
    assert type(shallow) is dict and props["total"] == 12.5
    deep = copy.deepcopy(props)
    deep["items"][0]["sku"] = "B"
    assert deep["items"][0]["tags"] == ["x"] and props["items"][0]["sku"] == "A"
    assert pickle.loads(pickle.dumps(props)) == message["properties"]


def test_raw_is_an_independent_deep_copy() -> None:
    message = track()
    e = ReceivedEvent.from_message(message)
    raw = e.raw()
    assert raw == message and raw is not message
    raw["properties"]["items"][0]["tags"].append("y")
    raw["event"] = "Other"
    assert e.raw() == message and e.event == "Order Completed"


def test_repr_and_equality() -> None:
    a = ReceivedEvent.from_message(track(traits={"email": "someone@example.com"}))
    b = ReceivedEvent.from_message(track(traits={"email": "someone@example.com"}))
    assert "example.com" not in repr(a) and "m-1" in repr(a)
    assert a == b and a != ReceivedEvent.from_message(track(messageId="m-2"))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=5), json_values, max_size=5))
def test_views_and_raw_round_trip(properties: dict[str, Any]) -> None:
    message = {"type": "track", "messageId": "m", "userId": "u", "properties": properties}
    before = copy.deepcopy(message)
    e = ReceivedEvent.from_message(message)
    assert orjson.loads(orjson.dumps(e.properties)) == orjson.loads(orjson.dumps(properties))
    assert e.raw() == before
    assert message == before  # the view never changes the message it wraps
