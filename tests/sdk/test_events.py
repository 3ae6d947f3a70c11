"""Events, event types and the Events iterator (same_user, values, EventsError).

Random call sequences over Events are covered by the model-based test in
test_records.py, which drives both iterators.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncline.sdk.errors import EventsError, PermanentError, RecordsError
from syncline.sdk.events import MAX_EVENT_TYPE_ID_LENGTH, Event, Events, EventType, EventTypeInfo
from syncline.sdk.received import ReceivedEvent
from syncline.sdk.records import IteratorMisuse


def event(
    n: int,
    anonymous_id: str | None = "a",
    user_id: str | None = None,
    values: dict[str, Any] | None = None,
) -> Event:
    message: dict[str, Any] = {"type": "track", "messageId": f"m{n}", "event": "E"}
    if anonymous_id is not None:
        message["anonymousId"] = anonymous_id
    if user_id is not None:
        message["userId"] = user_id
    info = EventTypeInfo("order", None, {"n": n} if values is None else values)
    return Event("pipeline-1", ReceivedEvent.from_message(message), info)


def ids(events: list[Event]) -> list[str]:
    return [e.received.message_id for e in events]


# Values.


def test_event_type_validation() -> None:
    EventType("a" * MAX_EVENT_TYPE_ID_LENGTH, "Order")
    with pytest.raises(ValueError, match="101 characters; the limit is 100"):
        EventType("a" * 101, "Order")
    with pytest.raises(ValueError, match="non-empty string"):
        EventType("", "Order")
    with pytest.raises(ValueError, match="non-empty name"):
        EventType("order", "")
    with pytest.raises(ValueError, match="default_filter"):
        EventType("order", "Order", default_filter=3)  # type: ignore[arg-type]
    kind = EventType("order", "Order Completed", "Sent when…", "type is 'track'")
    assert kind.default_filter == "type is 'track'" and kind.description == "Sent when…"


def test_event_idempotency_key_and_repr() -> None:
    e = event(7, values={"email": "someone@example.com"})
    assert e.idempotency_key == "m7"
    assert "example.com" not in repr(e) and "email" in repr(e)
    e.type.values["email"] = "changed@example.com"  # type: ignore[index]
    with pytest.raises(AttributeError):
        e.type.values = {}  # type: ignore[misc]


# same_user.


def test_same_user_yields_only_the_first_anonymous_id() -> None:
    items = [event(0, "a"), event(1, "b"), event(2, "a"), event(3, "c"), event(4, "a")]
    events = Events(items)
    assert ids(list(events.same_user())) == ["m0", "m2", "m4"]
    outcome = events.close()
    assert ids(outcome.succeeded) == ["m0", "m2", "m4"]
    assert ids(outcome.remaining) == ["m1", "m3"]


def test_same_user_without_anonymous_id_keys_by_user_id() -> None:
    items = [
        event(0, None, "u1"),
        event(1, None, "u2"),
        event(2, "x", "u1"),  # has an anonymous ID: another key
        event(3, None, "u1"),
    ]
    events = Events(items)
    assert ids(list(events.same_user())) == ["m0", "m3"]
    assert ids(events.close().remaining) == ["m1", "m2"]


def test_peek_during_same_user_skips_other_users() -> None:
    items = [event(0, "a"), event(1, "b"), event(2, "a")]
    events = Events(items)
    iterator = events.same_user()
    assert next(iterator) is items[0]
    assert events.peek() is items[2]
    assert next(iterator) is items[2]
    assert events.peek() is None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=12))
def test_same_user_property(anonymous_ids: list[str | None]) -> None:
    items = [event(n, a, None if a else f"u{n % 2}") for n, a in enumerate(anonymous_ids)]
    events = Events(items)
    yielded = list(events.same_user())
    first = items[0].received
    key = (first.anonymous_id, None if first.anonymous_id else first.user_id)
    expected = [
        e
        for e in items
        if (e.received.anonymous_id, None if e.received.anonymous_id else e.received.user_id) == key
    ]
    assert yielded == expected
    outcome = events.close()
    assert outcome.remaining == [e for e in items if e not in expected]


# Postpone and values.


def test_postponing_an_event_with_modified_values() -> None:
    items = [event(0), event(1), event(2)]
    events = Events(items)
    for e in events.all():
        if e is items[1]:
            e.type.values["extra"] = 1  # type: ignore[index]
            with pytest.raises(IteratorMisuse, match=r"type\.values were modified"):
                events.postpone()
        if e is items[2]:
            events.postpone()
    outcome = events.close()
    assert ids(outcome.succeeded) == ["m0", "m1"] and ids(outcome.remaining) == ["m2"]


def test_events_without_values_can_be_postponed() -> None:
    received = [
        ReceivedEvent.from_message({"type": "identify", "messageId": f"m{n}", "userId": "u"})
        for n in range(2)
    ]
    items = [Event("p", r, EventTypeInfo("identify", None, None)) for r in received]
    events = Events(items)
    for e in events.all():
        if e is items[1]:
            events.postpone()
    assert events.close().remaining == [items[1]]


def test_events_error_with_interleaved_discards_and_postpones() -> None:
    items = [event(n) for n in range(7)]
    events = Events(items)
    for e in events.all():
        n = e.type.values["n"]  # type: ignore[index]
        if n in (1, 4):
            events.discard(PermanentError("missing email"))
        elif n == 2:
            events.postpone()
        elif n == 5:
            events.postpone()
            break
    # Consumed in yield order: m0, m3 -> indexes 0, 1.
    rejected = PermanentError("rejected by the app")
    outcome = events.close(EventsError({1: rejected}))
    assert [(e.received.message_id, err) for e, err in outcome.failed] == [("m3", rejected)]
    assert ids(outcome.succeeded) == ["m0"]
    assert ids([e for e, _ in outcome.discarded]) == ["m1", "m4"]
    assert ids(outcome.remaining) == ["m2", "m5", "m6"]


def test_records_error_from_send_events_fails_every_consumed_event() -> None:
    items = [event(0), event(1)]
    events = Events(items)
    list(events.all())
    error = RecordsError({0: PermanentError("x")})
    assert events.close(error).failed == [(items[0], error), (items[1], error)]


def test_misuse_messages_speak_of_events() -> None:
    events = Events([event(0), event(1)])
    iterator = events.all()
    next(iterator)
    with pytest.raises(IteratorMisuse, match="first event of the send_events call"):
        events.postpone()
    with pytest.raises(
        IteratorMisuse, match=r"Events\.same_user\(\) was called after Events\.all\(\)"
    ):
        events.same_user()
    events.close()
    with pytest.raises(IteratorMisuse, match="after the send_events call ended"):
        events.peek()


def test_event_is_a_frozen_value_built_by_position_or_keyword() -> None:
    import dataclasses
    import pickle

    e = event(1)
    same = Event(pipeline="pipeline-1", received=e.received, type=e.type)
    assert same == e and (same.pipeline, same.received, same.type) == (
        e.pipeline,
        e.received,
        e.type,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.pipeline = "other"  # type: ignore[misc]
    moved = dataclasses.replace(e, pipeline="pipeline-2")
    assert moved.pipeline == "pipeline-2" and moved.received is e.received
    assert pickle.loads(pickle.dumps(e)) == e
    with pytest.raises(TypeError):
        Event("pipeline-1", e.received)  # type: ignore[call-arg]
