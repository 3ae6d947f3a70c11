"""syncline.sdk.testing: builders for Records/Events and reports of a call."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from syncline.sdk.errors import EventsError, PermanentError, RecordsError
from syncline.sdk.events import Event, Events, EventTypeInfo
from syncline.sdk.received import ReceivedEvent
from syncline.sdk.records import IteratorMisuse, Record, Records
from syncline.sdk.testing import (
    DEFAULT_ANONYMOUS_ID,
    events_from,
    message,
    received_event,
    records_from,
    report,
    report_of,
)

# Two small connectors' methods, written as a connector would write them.


async def upsert_same_operation(records: Records) -> None:
    """Send records of one operation per request; the app rejects bad emails."""
    body = []
    for record in records.same():
        if "@" not in record.attributes.get("email", "@"):
            records.discard(PermanentError("invalid email address"))
            continue
        body.append(record.attributes)
    rejected = {i: PermanentError("duplicate") for i, a in enumerate(body) if a.get("dup")}
    if rejected:
        raise RecordsError(rejected)


async def send_within_size(events: Events, limit: int = 120) -> None:
    """Pack events until the encoded body would pass ``limit`` bytes."""
    parts: list[bytes] = []
    size = 2
    for event in events.all():
        encoded = orjson.dumps({"id": event.idempotency_key, "values": event.type.values})
        if parts and size + len(encoded) + 1 > limit:
            events.postpone()
            break
        parts.append(encoded)
        size += len(encoded) + 1
    if any(b"reject" in part for part in parts):
        raise EventsError(
            {i: PermanentError("rejected") for i, p in enumerate(parts) if b"reject" in p}
        )


# Builders.


def test_records_from_dicts_pairs_and_records() -> None:
    attributes = {"email": "a@example.com"}
    kept = Record("7", {"email": "c@example.com"})
    when = datetime(2026, 1, 1, tzinfo=UTC)
    records = records_from([attributes, ("42", {"email": "b@example.com"}), kept], updated_at=when)
    first, second, third = list(records.all())
    assert first.is_create and first.attributes == attributes and first.updated_at == when
    assert first.attributes is not attributes  # the test's dict is never modified
    assert second.id == "42" and not second.is_create
    assert third is kept


def test_message_fills_what_is_missing() -> None:
    m = message("track")
    assert m["type"] == "track" and m["event"] == "Test Event"
    assert m["anonymousId"] == DEFAULT_ANONYMOUS_ID and len(m["messageId"]) == 36
    assert m["timestamp"].endswith("Z")
    assert m["originalTimestamp"] == m["sentAt"] == m["receivedAt"] == m["timestamp"]
    assert message("track")["messageId"] != m["messageId"]


def test_message_keeps_given_fields_in_both_spellings() -> None:
    when = datetime(2026, 5, 4, 3, 2, 1, 500000, tzinfo=UTC)
    m = message("identify", user_id="u-1", messageId="m-9", timestamp=when, traits={"plan": "pro"})
    assert m["userId"] == "u-1" and "anonymousId" not in m
    assert m["messageId"] == "m-9" and m["timestamp"] == "2026-05-04T03:02:01.500Z"
    assert "event" not in m and m["traits"] == {"plan": "pro"}


def test_received_event_is_a_valid_view() -> None:
    e = received_event("page", name="Home", anonymous_id="a-1", properties={"path": "/"})
    assert isinstance(e, ReceivedEvent)
    assert (e.type, e.name, e.anonymous_id) == ("page", "Home", "a-1")
    assert e.properties == {"path": "/"} and e.timestamp is not None


def test_events_from_messages_values_and_events() -> None:
    ready = Event("other", received_event(), EventTypeInfo("x", None, None))
    shared = {"currency": "EUR"}
    events = events_from(
        [
            {"type": "track", "event": "Order", "anonymousId": "a"},
            received_event("identify"),
            ready,
        ],
        type_id="order",
        values=shared,
        pipeline="p-7",
    )
    first, second, third = list(events.all())
    assert first.received.event == "Order" and first.received.message_id
    assert first.type.id == "order" and first.pipeline == "p-7"
    assert first.type.values == shared and first.type.values is not shared
    assert second.type.values is not first.type.values  # one copy per event
    assert third is ready


def test_events_from_with_computed_values() -> None:
    events = events_from(
        [{"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}}],
        values=lambda received: {"email": (received.traits or {}).get("email")},
    )
    assert events.first().type.values == {"email": "a@example.com"}


# Reports.


async def test_report_of_an_upsert() -> None:
    records = records_from(
        [
            {"email": "a@example.com"},
            ("1", {"email": "update@example.com"}),
            {"email": "not-an-email"},
            {"email": "c@example.com", "dup": True},
            {"email": "d@example.com"},
        ]
    )
    result = await report_of(upsert_same_operation(records), records)
    emails = [r.attributes["email"] for r in result.consumed]
    assert emails == ["a@example.com", "c@example.com", "d@example.com"]
    assert [r.attributes["email"] for r in result.succeeded] == ["a@example.com", "d@example.com"]
    assert [(r.attributes["email"], str(e)) for r, e in result.failed] == [
        ("c@example.com", "duplicate")
    ]
    assert [r.attributes["email"] for r, _ in result.discarded] == ["not-an-email"]
    assert [r.id for r in result.unread] == ["1"] and result.postponed == []
    assert result.remaining == result.unread and result.violation is None
    assert isinstance(result.error, RecordsError)


async def test_report_of_a_size_limited_send() -> None:
    events = events_from(
        [message("track", message_id=f"m{n}") for n in range(5)],
        values={"padding": "x" * 20},
    )
    result = await report_of(send_within_size(events), events)
    assert [e.idempotency_key for e in result.consumed] == ["m0", "m1"]
    assert [e.idempotency_key for e in result.postponed] == ["m2"]
    assert [e.idempotency_key for e in result.unread] == ["m3", "m4"]
    assert [e.idempotency_key for e in result.remaining] == ["m2", "m3", "m4"]
    assert result.error is None and result.violation is None


async def test_report_of_reraises_iterator_misuse() -> None:
    async def postpones_the_first(events: Events) -> None:
        for _ in events.all():
            events.postpone()

    events = events_from([message("track"), message("track")])
    with pytest.raises(IteratorMisuse, match="first event"):
        await report_of(postpones_the_first(events), events)
    with pytest.raises(IteratorMisuse, match="ended"):
        events.peek()  # the value was closed as the engine would


def test_report_of_a_call_that_read_nothing() -> None:
    records = records_from([{"a": 1}])
    result = report(records)
    assert result.violation is not None and result.remaining == result.unread
    assert result.consumed == result.succeeded == []


def test_report_of_a_call_that_raised() -> None:
    events = events_from([message("track"), message("track")])
    events.first()
    failure = PermanentError("bad request", status=400)
    result = report(events, failure)
    assert [e for e, _ in result.failed] == result.consumed and result.error is failure
    assert len(result.unread) == 1
