"""The tracking API over real HTTP: auth forms, paths, bodies, merging, timestamps, limits."""

from __future__ import annotations

import base64
import gzip
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from collect_support import OTHER_KEY, WRITE_KEY, RunningCollector

from syncline.sdk.received import ReceivedEvent


def track(n: int = 0, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": f"E{n}", "userId": f"u{n}", **extra}


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def test_every_auth_form_is_accepted_and_names_its_source(collector: RunningCollector) -> None:
    forms: list[tuple[dict[str, str], dict[str, Any]]] = [
        (basic(WRITE_KEY), {}),
        ({"Authorization": f"Bearer {WRITE_KEY}"}, {}),
        ({"X-Write-Key": WRITE_KEY}, {}),
        ({}, {"writeKey": WRITE_KEY}),
        (basic(OTHER_KEY), {}),
    ]
    for n, (headers, extra) in enumerate(forms):
        response = collector.post("/v1/batch", {"batch": [track(n)], **extra}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"success": True, "accepted": 1, "rejected": 0}
    events = collector.events()
    assert [e.user_id for e in events] == ["u0", "u1", "u2", "u3", "u4"]
    assert len({e.source_id for e in events[:4]}) == 1
    assert events[4].source_id != events[0].source_id
    # The key is a credential: it is never stored with the event.
    assert all(b"writeKey" not in e.payload and WRITE_KEY.encode() not in e.payload for e in events)


@pytest.mark.parametrize(
    ("headers", "extra", "code"),
    [
        ({}, {}, "missing_write_key"),
        (basic("no-such-key-0123456789"), {}, "invalid_write_key"),
        ({"Authorization": "Bearer nope"}, {"writeKey": WRITE_KEY}, "invalid_write_key"),
        ({}, {"writeKey": "no-such-key-0123456789"}, "invalid_write_key"),
        ({"Authorization": "Basic !!!"}, {}, "missing_write_key"),
        ({}, {"writeKey": 42}, "missing_write_key"),
    ],
)
def test_missing_or_unknown_key_is_401_and_stores_nothing(
    collector: RunningCollector, headers: dict[str, str], extra: dict[str, Any], code: str
) -> None:
    response = collector.post("/v1/batch", {"batch": [track()], **extra}, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert collector.events() == []


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/v1/track", "track"),
        ("/v1/t", "track"),
        ("/v1/identify", "identify"),
        ("/v1/i", "identify"),
        ("/v1/page", "page"),
        ("/v1/p", "page"),
        ("/v1/screen", "screen"),
        ("/v1/s", "screen"),
        ("/v1/group", "group"),
        ("/v1/g", "group"),
        ("/v1/alias", "alias"),
        ("/v1/a", "alias"),
    ],
)
def test_single_event_paths_and_short_forms_set_the_type(
    collector: RunningCollector, path: str, kind: str
) -> None:
    # analytics.js sends text/plain (no CORS preflight) with the key in the body.
    body = {"anonymousId": "a1", "writeKey": WRITE_KEY, "type": "whatever"}
    response = collector.post(path, body, headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    [message] = collector.messages()
    assert message["type"] == kind
    assert message["anonymousId"] == "a1"


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/b", "/v1/import"])
def test_batch_paths(collector: RunningCollector, path: str) -> None:
    response = collector.post(path, {"batch": [track(1), track(2)]}, headers=basic(WRITE_KEY))
    assert response.status_code == 200
    assert [m["event"] for m in collector.messages()] == ["E1", "E2"]


def test_gzip_body(collector: RunningCollector) -> None:
    body = gzip.compress(orjson.dumps({"batch": [track(n) for n in range(50)]}))
    response = collector.post(
        "/v1/batch", body, headers={**basic(WRITE_KEY), "Content-Encoding": "gzip"}
    )
    assert response.status_code == 200
    assert [m["event"] for m in collector.messages()] == [f"E{n}" for n in range(50)]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"{not json", {}),
        (b"[1, 2]", {}),
        (b'"text"', {}),
        (b"\xff\xfe{}", {}),
        (b"", {}),
        (b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}),
        (gzip.compress(b'{"batch": []}')[:-5], {"Content-Encoding": "gzip"}),
        (b'{"batch": []}', {"Content-Encoding": "gzip"}),
        (b'{"batch": []}', {"Content-Encoding": "br"}),
        (b'{"batch": {"type": "track"}}', {}),
        (b'{"no_batch": 1}', {}),
    ],
)
def test_unparseable_bodies_are_400(
    collector: RunningCollector, body: bytes, headers: dict[str, str]
) -> None:
    response = collector.post("/v1/batch", body, headers={**basic(WRITE_KEY), **headers})
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False
    assert collector.events() == []


def test_batch_context_and_integrations_are_merged_item_keys_win(
    collector: RunningCollector,
) -> None:
    body = {
        "batch": [
            track(1, context={"ip": "10.0.0.1", "locale": "fr"}, integrations={"All": False}),
            track(2),
        ],
        "context": {"library": {"name": "lib", "version": "1"}, "ip": "192.0.2.1"},
        "integrations": {"All": True, "Mixpanel": False},
    }
    assert collector.post("/v1/batch", body, headers=basic(WRITE_KEY)).status_code == 200
    first, second = collector.messages()
    assert first["context"] == {
        "library": {"name": "lib", "version": "1"},
        "ip": "10.0.0.1",
        "locale": "fr",
    }
    assert first["integrations"] == {"All": False, "Mixpanel": False}
    assert second["context"] == {"library": {"name": "lib", "version": "1"}, "ip": "192.0.2.1"}
    assert second["integrations"] == {"All": True, "Mixpanel": False}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_clock_skew_is_corrected_and_ids_and_times_filled(collector: RunningCollector) -> None:
    # The client's clock is 3 hours behind; the event happened 10 s before sending.
    client_now = datetime.now(UTC) - timedelta(hours=3)
    happened = client_now - timedelta(seconds=10)
    body = {
        "batch": [
            track(1, timestamp=happened.isoformat(), messageId="m-1"),
            track(2, originalTimestamp=happened.isoformat()),
            track(3),
        ],
        "sentAt": client_now.isoformat(),
    }
    before = datetime.now(UTC)
    assert collector.post("/v1/batch", body, headers=basic(WRITE_KEY)).status_code == 200
    after = datetime.now(UTC)
    one, two, three = collector.messages()
    received = _time(one["receivedAt"])
    assert before - timedelta(milliseconds=1) <= received <= after
    assert one["messageId"] == "m-1"
    assert one["originalTimestamp"] == happened.isoformat()
    assert one["sentAt"] == client_now.isoformat()
    assert abs(_time(one["timestamp"]) - (received - timedelta(seconds=10))) < timedelta(
        milliseconds=2
    )
    assert two["originalTimestamp"] == happened.isoformat()
    assert abs(_time(two["timestamp"]) - (received - timedelta(seconds=10))) < timedelta(
        milliseconds=2
    )
    # No time from the client: the event happened when it was received.
    assert three["timestamp"] == three["receivedAt"]
    assert "originalTimestamp" not in three
    assert len({one["messageId"], two["messageId"], three["messageId"]}) == 3
    for message in (one, two, three):
        ReceivedEvent.from_message(message)


def test_timestamp_without_sent_at_is_kept(collector: RunningCollector) -> None:
    body = {"batch": [track(1, timestamp="2024-05-01T10:00:00+02:00")]}
    assert collector.post("/v1/batch", body, headers=basic(WRITE_KEY)).status_code == 200
    [message] = collector.messages()
    assert message["timestamp"] == "2024-05-01T08:00:00.000Z"
    assert message["originalTimestamp"] == "2024-05-01T10:00:00+02:00"


def test_invalid_events_are_rejected_one_by_one_and_listed(collector: RunningCollector) -> None:
    body = {
        "batch": [
            track(0),
            {"event": "no type", "userId": "x"},
            {"type": "purchase", "userId": "x"},
            {"type": "track", "event": "no ids"},
            {"type": "track", "userId": {"nested": 1}},
            {"type": "track", "userId": "x", "properties": [1, 2]},
            {"type": "track", "userId": "x", "timestamp": "yesterday"},
            {"type": "track", "userId": "x", "event": 5},
            "not an object",
            track(9, userId=12345),
        ]
    }
    response = collector.post("/v1/batch", body, headers=basic(WRITE_KEY))
    assert response.status_code == 200
    assert response.json() == {"success": True, "accepted": 2, "rejected": 8}
    events = collector.events()
    assert [e.user_id for e in events] == ["u0", "12345"]
    stats = collector.stats()
    assert stats["accepted"] == {"web": 2}
    assert stats["rejected"] == {
        "web": {
            "invalid_field": 3,
            "invalid_timestamp": 1,
            "missing_id": 1,
            "missing_type": 1,
            "not_an_object": 1,
            "unknown_type": 1,
        }
    }
    reasons = [(r["reason"], r["field"]) for r in stats["recent_rejections"]]
    assert reasons[0] == ("not_an_object", None)
    assert ("invalid_field", "properties") in reasons
    # No value of an event appears in the stats (only types, reasons, fields).
    assert "purchase" not in orjson.dumps(stats).decode()


def test_request_size_limit_raw_and_inflated(
    start_collector: Callable[..., RunningCollector],
) -> None:
    collector = start_collector(max_request_bytes=10_000)
    big = {"batch": [track(n, properties={"pad": "x" * 200}) for n in range(60)]}
    raw = orjson.dumps(big)
    assert len(raw) > 10_000
    response = collector.post("/v1/batch", raw, headers=basic(WRITE_KEY))
    assert response.status_code == 413
    packed = gzip.compress(raw)
    assert len(packed) < 10_000
    response = collector.post(
        "/v1/batch", packed, headers={**basic(WRITE_KEY), "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert collector.events() == []
    small = {"batch": [track(n) for n in range(5)]}
    assert collector.post("/v1/batch", small, headers=basic(WRITE_KEY)).status_code == 200


def test_gzip_bomb_is_refused_without_inflating_it(collector: RunningCollector) -> None:
    import psutil

    # 256 MiB of JSON whitespace in about 250 KB of gzip.
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    spaces = b" " * (1024 * 1024)
    bomb = packer.compress(b"{") + b"".join(packer.compress(spaces) for _ in range(256))
    bomb += packer.compress(b"}") + packer.flush()
    assert len(bomb) < 1024 * 1024
    rss_before = psutil.Process().memory_info().rss
    response = collector.post(
        "/v1/batch", bomb, headers={**basic(WRITE_KEY), "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    # The collector runs in this process: inflating the bomb would add 256 MiB.
    assert psutil.Process().memory_info().rss - rss_before < 64 * 1024 * 1024


def test_events_per_batch_limit(start_collector: Callable[..., RunningCollector]) -> None:
    collector = start_collector(max_batch_events=10)
    response = collector.post(
        "/v1/batch", {"batch": [track(n) for n in range(11)]}, headers=basic(WRITE_KEY)
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_many_events"
    assert collector.events() == []
    response = collector.post(
        "/v1/batch", {"batch": [track(n) for n in range(10)]}, headers=basic(WRITE_KEY)
    )
    assert response.status_code == 200


def test_strict_per_event_size(start_collector: Callable[..., RunningCollector]) -> None:
    collector = start_collector(strict_event_bytes=32 * 1024)
    body = {
        "batch": [track(1), track(2, properties={"blob": "x" * 40_000}), track(3)],
    }
    response = collector.post("/v1/batch", body, headers=basic(WRITE_KEY))
    assert response.status_code == 200
    assert response.json()["rejected"] == 1
    assert [m["event"] for m in collector.messages()] == ["E1", "E3"]
    assert collector.stats()["rejected"] == {"web": {"event_too_large": 1}}


def test_an_event_nested_too_deep_to_store_is_rejected_alone(collector: RunningCollector) -> None:
    """JSON the parser reads but the log's encoder cannot write must not fail the batch."""
    deep = b'{"x":' * 300 + b"1" + b"}" * 300
    body = b'{"batch": [%s, {"type": "track", "userId": "u2", "properties": %s}, %s]}' % (
        orjson.dumps(track(1)),
        deep,
        orjson.dumps(track(3)),
    )
    response = collector.post("/v1/batch", body, headers=basic(WRITE_KEY))
    assert response.status_code == 200
    assert response.json() == {"success": True, "accepted": 2, "rejected": 1}
    assert [m["event"] for m in collector.messages()] == ["E1", "E3"]
    assert collector.stats()["rejected"] == {"web": {"too_deeply_nested": 1}}


def test_large_events_pass_without_strict_mode(collector: RunningCollector) -> None:
    body = {"batch": [track(1, properties={"blob": "x" * 40_000})]}
    assert collector.post("/v1/batch", body, headers=basic(WRITE_KEY)).status_code == 200
    assert len(collector.events()) == 1


def test_over_the_backlog_bound_is_429_with_retry_after(
    start_collector: Callable[..., RunningCollector],
) -> None:
    collector = start_collector(max_backlog=5, retry_after_seconds=7)
    body = {"batch": [track(n) for n in range(5)]}
    assert collector.post("/v1/batch", body, headers=basic(WRITE_KEY)).status_code == 200
    response = collector.post("/v1/batch", {"batch": [track(9)]}, headers=basic(WRITE_KEY))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert len(collector.events()) == 5
    # Delivery prunes the log: the collector notices on its next refresh.
    _prune(collector)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = collector.post("/v1/batch", {"batch": [track(9)]}, headers=basic(WRITE_KEY))
        if response.status_code == 200:
            break
        assert response.status_code == 429
        time.sleep(0.05)
    assert response.status_code == 200


def _prune(collector: RunningCollector) -> None:
    import asyncio

    from syncline.store import open_store

    async def main() -> None:
        store = await open_store(collector.database_url, workspace=collector.workspace)
        try:
            await store.event_log.delete_through(await store.event_log.max_id())
        finally:
            await store.close()

    asyncio.run(main())


def test_health_stats_and_unknown_paths(collector: RunningCollector) -> None:
    import httpx

    assert httpx.get(collector.url + "/health").json() == {"status": "ok"}
    assert httpx.get(collector.url + "/v1/nope").status_code == 404
    response = httpx.get(collector.url + "/v1/track")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    collector.post("/v1/batch", {"batch": []}, headers=basic(WRITE_KEY))
    collector.post("/v1/batch", b"nope", headers=basic(WRITE_KEY))
    stats = collector.stats()
    assert stats["responses"] == {"200": 1, "400": 1}
    assert stats["backlog"] == 0


def test_browsers_may_send_from_any_origin(collector: RunningCollector) -> None:
    import httpx

    preflight = httpx.options(
        collector.url + "/v1/t",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    response = collector.post(
        "/v1/t",
        {"anonymousId": "a", "event": "E", "writeKey": WRITE_KEY},
        headers={"Content-Type": "text/plain", "Origin": "https://shop.example"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
