"""The GA4 connector against its sandbox: bodies, validation, grouping, limits, preview."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from syncline.connectors.google_analytics import SPEC, GoogleAnalytics, GoogleAnalyticsSettings
from syncline.connectors.google_analytics.sandbox import API_SECRET, GoogleAnalyticsSandbox
from syncline.http import Client
from syncline.sdk import AuthError, Env
from syncline.sdk.testing import MemorySettings, events_from, report_of

SNAPSHOT = Path(__file__).parent / "snapshots" / "requests.json"


@pytest.fixture
async def sandbox() -> AsyncIterator[GoogleAnalyticsSandbox]:
    async with GoogleAnalyticsSandbox(records=0, limits=False) as running:
        yield running


async def connect(settings: dict[str, Any]) -> tuple[GoogleAnalytics, Client]:
    store = MemorySettings(GoogleAnalyticsSettings(**settings))
    client = Client(SPEC, store)
    return GoogleAnalytics(Env(settings=store, http=client)), client


def track(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": f"event_{i % 3}",
        "messageId": f"msg-{i:03d}",
        "timestamp": f"2026-03-0{1 + i % 9}T12:00:0{i % 10}.250Z",
        "anonymousId": "device-1",
        "userId": "u1",
        "properties": {"n": i, "plan": ["free", "pro"][i % 2], "price": i * 1.5},
        **extra,
    }


async def send_all(connector: GoogleAnalytics, events: Any) -> list[Any]:
    reports = []
    while True:
        report = await report_of(connector.send_events(events), events)
        reports.append(report)
        if not (report.postponed or report.unread):
            return reports
        # The engine hands pending events back in their original order.
        pending = sorted(report.postponed + report.unread, key=lambda e: e.received.message_id)
        events = events_from(pending)


async def test_request_bodies_match_snapshot(sandbox: GoogleAnalyticsSandbox) -> None:
    connector, client = await connect(sandbox.settings())
    purchase = {
        "transaction_id": "T-1001",
        "value": 42.5,
        "currency": "EUR",
        "items": [{"item_id": "SKU-1", "item_name": "Mug", "price": 21.25, "quantity": 2}],
        "coupon": None,
    }
    async with client:
        events = events_from([track(i) for i in range(4)], type_id="custom")
        assert (await report_of(connector.send_events(events), events)).error is None
        events = events_from(
            [track(9, anonymousId="device-2")], type_id="purchase", values=purchase
        )
        assert (await report_of(connector.send_events(events), events)).error is None
    sent = sandbox.received("/mp/collect")
    assert [r.params["api_secret"] for r in sent] == [API_SECRET, API_SECRET]
    actual = [json.loads(r.body) for r in sent]
    assert json.dumps(actual, indent=2, sort_keys=True) + "\n" == SNAPSHOT.read_text()
    assert len(sandbox.collected) == 5  # the sandbox kept every event: all were valid


async def test_invalid_events_are_discarded_naming_the_field(
    sandbox: GoogleAnalyticsSandbox,
) -> None:
    messages = [track(i) for i in range(7)]
    messages[1]["event"] = "Order-Completed"  # a hyphen
    messages[2]["properties"] = {"google_campaign": "x"}  # reserved prefix
    messages[4]["properties"] = {"note": "y" * 101}  # value over 100 characters
    messages[5]["event"] = "session_start"  # reserved name
    messages[6]["properties"] = {"nested": {"a": 1}}  # not a string or number
    connector, client = await connect(sandbox.settings())
    async with client:
        events = events_from(messages, type_id="custom")
        report = await report_of(connector.send_events(events), events)
    assert report.error is None
    assert [e.received.message_id for e in report.succeeded] == ["msg-000", "msg-003"]
    discarded = {e.received.message_id: str(error) for e, error in report.discarded}
    assert set(discarded) == {"msg-001", "msg-002", "msg-004", "msg-005", "msg-006"}
    assert "(event)" in discarded["msg-001"] and "letters, digits" in discarded["msg-001"]
    assert "properties.google_campaign" in discarded["msg-002"]
    assert "reserved prefix" in discarded["msg-002"]
    assert "properties.note" in discarded["msg-004"] and "100" in discarded["msg-004"]
    assert "reserved" in discarded["msg-005"] and "(event)" in discarded["msg-005"]
    assert "properties.nested" in discarded["msg-006"]
    # No value of an event in its error, and none of the invalid ones sent.
    assert all("yyy" not in m for m in discarded.values())
    (sent,) = sandbox.received("/mp/collect")
    assert [e["name"] for e in json.loads(sent.body)["events"]] == ["event_0", "event_0"]
    # The sandbox, like GA4, would have dropped them silently: the debug endpoint names them.
    raw = orjson.dumps(
        {
            "client_id": "c",
            "events": [{"name": "Order Completed"}, {"name": "ok", "params": {"ga_x": 1}}],
        }
    )
    _, client = await connect(sandbox.settings())
    async with client:
        response = await client.request(
            "POST",
            f"{sandbox.url}/debug/mp/collect",
            params={"measurement_id": "G-SANDBOX42", "api_secret": API_SECRET},
            content=raw,
        )
        collected = await client.request(
            "POST",
            f"{sandbox.url}/mp/collect",
            params={"measurement_id": "G-SANDBOX42", "api_secret": API_SECRET},
            content=raw,
        )
    paths = [m["fieldPath"] for m in response.json()["validationMessages"]]
    assert paths == ["events[0].name", "events[1].params"]
    assert collected.status_code == 204 and len(sandbox.collected) == 2  # dropped silently


async def test_segment_event_names_with_spaces_are_delivered_with_underscores(
    sandbox: GoogleAnalyticsSandbox,
) -> None:
    # Segment's spec names events "Order Completed"; GA4 refuses spaces.
    messages = [track(0, event="Order Completed"), track(1, event="  Video \t Played ")]
    connector, client = await connect(sandbox.settings())
    async with client:
        events = events_from(messages, type_id="custom")
        report = await report_of(connector.send_events(events), events)
    assert report.error is None and not report.discarded
    (sent,) = sandbox.received("/mp/collect")
    names = [e["name"] for e in json.loads(sent.body)["events"]]
    assert names == ["Order_Completed", "Video_Played"]
    assert len(sandbox.collected) == 2  # the sandbox, like GA4, accepted both names


async def test_one_client_and_user_per_request(sandbox: GoogleAnalyticsSandbox) -> None:
    messages = [
        track(0),
        track(1, anonymousId="device-2"),
        track(2),
        track(3, userId="u9"),  # same device, another user: next request
        track(4),
    ]
    connector, client = await connect(sandbox.settings())
    async with client:
        reports = await send_all(connector, events_from(messages, type_id="custom"))
    assert all(r.error is None and not r.discarded for r in reports)
    bodies = [json.loads(r.body) for r in sandbox.received("/mp/collect")]
    shape = [(b["client_id"], b.get("user_id"), len(b["events"])) for b in bodies]
    assert shape == [
        ("device-1", "u1", 2),
        ("device-2", "u1", 1),
        ("device-1", "u9", 1),
        ("device-1", "u1", 1),
    ]
    assert len(sandbox.collected) == 5


async def test_count_and_size_limits(sandbox: GoogleAnalyticsSandbox) -> None:
    connector, client = await connect(sandbox.settings())
    async with client:
        events = events_from([track(i) for i in range(30)], type_id="custom")
        report = await report_of(connector.send_events(events), events)
        assert len(report.succeeded) == 25 and report.error is None
        # About 30 kB each: four fit under 130 kB, the fifth is postponed.
        items = [{"item_id": f"{i:03d}" + "x" * 76, "item_name": "n" * 40} for i in range(200)]
        values = {"transaction_id": "T", "value": 1.0, "currency": "USD", "items": items}
        events = events_from([track(i) for i in range(6)], type_id="purchase", values=values)
        report = await report_of(connector.send_events(events), events)
        assert len(report.succeeded) == 4 and len(report.postponed) == 1 and report.error is None
    assert all(len(r.body) < 130_000 for r in sandbox.received("/mp/collect"))
    assert len(sandbox.requests[-1]) == 4  # the sandbox enforces the limit too and kept all


async def test_preview_validates_and_redacts(sandbox: GoogleAnalyticsSandbox) -> None:
    connector, client = await connect(sandbox.settings())
    async with client:
        preview = await connector.preview_send_events(
            events_from([track(0), track(1)], type_id="custom")
        )
    assert preview is not None
    assert preview.url.path == "/mp/collect"
    assert preview.url.params["api_secret"] == "[REDACTED]"
    assert API_SECRET not in str(preview.url) + preview.content.decode()
    (validated,) = sandbox.received("/debug/mp/collect")
    assert validated.body == preview.content
    assert sandbox.received("/mp/collect") == [] and sandbox.collected == []


async def test_refused_secret_fails_preview_and_check(sandbox: GoogleAnalyticsSandbox) -> None:
    connector, client = await connect(sandbox.bad_settings())
    async with client:
        with pytest.raises(AuthError) as raised:
            await connector.preview_send_events(events_from([track(0)], type_id="custom"))
        assert "revoked-api-secret" not in str(raised.value)
        problems = await connector.check()
    assert [p.field for p in problems] == ["api_secret"]


async def test_sandbox_rate_limit_answers_429() -> None:
    async with GoogleAnalyticsSandbox(records=0) as limited:
        params = {"measurement_id": "G-SANDBOX42", "api_secret": API_SECRET}
        async with httpx.AsyncClient() as raw:
            statuses = [
                (
                    await raw.post(f"{limited.url}/mp/collect", params=params, content=b"{}")
                ).status_code
                for _ in range(60)
            ]
    # A burst of 30, then 30 per second: 30 more back-to-back requests pass only
    # if each takes over 33 ms, far slower than any machine on 127.0.0.1.
    assert statuses[:30] == [204] * 30 and 429 in statuses[30:]
