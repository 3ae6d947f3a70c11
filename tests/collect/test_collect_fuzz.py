"""Fuzzing the collector with Hypothesis over real HTTP.

Every generated request (bad JSON, wrong types, huge fields, bad gzip, missing
IDs, nested garbage, non-UTF-8, every auth form) must get the status the
documented rules give, computed here independently; a non-200 must store
nothing; a 200 must store exactly the events the rules call valid, in order.
"""

from __future__ import annotations

import base64
import gzip
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import orjson
from collect_support import WRITE_KEY, RunningCollector
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from syncline.sdk.received import ReceivedEvent

LIMIT = 20_000
MAX_EVENTS = 8
STRICT = 2_000
TYPES = ("track", "identify", "page", "screen", "group", "alias")

good_times = st.sampled_from(
    [
        "2026-01-01T00:00:00Z",
        "2025-06-30T23:59:59.999+02:00",
        "2026-03-01T10:00:00",
        "2026-01-01",
        # The form clients send, which the collector reads on a fast path.
        "2026-01-01T00:00:00.123Z",
        "2025-12-31T23:59:59.999Z",
    ]
)
bad_times = st.one_of(
    st.sampled_from(["yesterday", "", "2026-13-01T00:00:00Z", "12:00"]),
    st.integers(-1000, 10**12),
    st.none(),
)
garbage = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
identifier = st.one_of(
    st.none(),
    st.just(""),
    st.text(min_size=1, max_size=12),
    st.integers(min_value=0, max_value=10**6),
    st.booleans(),
    st.floats(allow_nan=False),
    st.dictionaries(st.text(max_size=3), st.integers(-5, 5), max_size=2),
)


@st.composite
def items(draw: st.DrawFn, index: int) -> Any:
    """A batch item: mostly a plausible event with a few fields broken, sometimes garbage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(garbage)
    item: dict[str, Any] = {
        "_k": index,
        "type": draw(st.sampled_from(TYPES)),
        "userId": draw(st.text(min_size=1, max_size=12)),
        "event": "Played",
        "properties": {"n": index, "title": draw(st.text(max_size=20))},
    }
    if draw(st.booleans()):
        item["timestamp"] = draw(good_times)
    for _ in range(draw(st.integers(0, 2))):
        key = draw(
            st.sampled_from(
                [
                    "type",
                    "userId",
                    "anonymousId",
                    "messageId",
                    "event",
                    "name",
                    "groupId",
                    "previousId",
                    "properties",
                    "traits",
                    "context",
                    "integrations",
                    "timestamp",
                    "originalTimestamp",
                    "sentAt",
                ]
            )
        )
        if key in ("timestamp", "originalTimestamp", "sentAt"):
            value = draw(st.one_of(good_times, bad_times))
        elif key in ("userId", "anonymousId"):
            value = draw(identifier)
        elif key == "type":
            value = draw(st.one_of(st.sampled_from(["", "purchase", "TRACK"]), garbage))
        elif key in ("properties", "traits", "context", "integrations"):
            value = draw(
                st.one_of(st.dictionaries(st.text(max_size=6), garbage, max_size=4), garbage)
            )
        else:
            value = draw(st.one_of(st.text(max_size=10), garbage))
        if draw(st.integers(0, 4)) == 0:
            item.pop(key, None)
        else:
            item[key] = value
    if draw(st.integers(0, 15)) == 0:
        item["properties"] = {"blob": "x" * draw(st.integers(1_000, 30_000))}
    return item


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str], dict[str, Any] | None]:
    """(path, body bytes, headers, the parsed body or None when it is not JSON by design)."""
    path = draw(st.sampled_from(["/v1/batch", "/v1/b", "/v1/track", "/v1/i"]))
    kind = draw(st.integers(0, 11))
    parsed: dict[str, Any] | None = None
    if kind == 0:
        raw = draw(st.binary(max_size=200))
    elif kind == 1:
        raw = b'{"batch": [' + draw(st.binary(max_size=50))
    elif kind == 2:
        raw = orjson.dumps(draw(garbage))
    elif kind == 3:
        raw = b'{"batch": [{"type": "track", "userId": "\xff\xfe"}]}'
    else:
        if path in ("/v1/batch", "/v1/b"):
            count = draw(st.integers(0, MAX_EVENTS + 2))
            parsed = {"batch": [draw(items(i)) for i in range(count)]}
            if draw(st.booleans()):
                parsed["context"] = draw(
                    st.one_of(st.dictionaries(st.text(max_size=5), garbage), garbage)
                )
            if draw(st.booleans()):
                parsed["sentAt"] = draw(st.one_of(good_times, bad_times))
            if draw(st.integers(0, 6)) == 0:
                parsed["batch"] = draw(garbage)
        else:
            body = draw(items(0))
            parsed = body if isinstance(body, dict) else None
            if parsed is None:
                parsed = {"_k": 0}
        raw = orjson.dumps(parsed)
    auth = draw(st.sampled_from(["basic", "bearer", "header", "body", "none", "wrong"]))
    headers = {"Content-Type": draw(st.sampled_from(["application/json", "text/plain"]))}
    if auth == "basic":
        headers["Authorization"] = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    elif auth == "bearer":
        headers["Authorization"] = f"Bearer {WRITE_KEY}"
    elif auth == "header":
        headers["X-Write-Key"] = WRITE_KEY
    elif auth == "wrong":
        headers["X-Write-Key"] = "wrong-key-0123456789"
    elif auth == "body" and parsed is not None:
        parsed["writeKey"] = WRITE_KEY
        raw = orjson.dumps(parsed)
    encoding = draw(st.sampled_from(["none", "gzip", "gzip", "broken"]))
    if encoding == "gzip":
        raw = gzip.compress(raw)
        headers["Content-Encoding"] = "gzip"
    elif encoding == "broken":
        raw = gzip.compress(raw)[: draw(st.integers(0, 12))]
        headers["Content-Encoding"] = "gzip"
    return path, raw, headers, parsed


def _time_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _valid(item: Any, batch_sent_at: Any, single: bool) -> bool:
    """The documented per-event rules, written independently of the collector."""
    if not isinstance(item, dict):
        return False
    if len(orjson.dumps(item)) > STRICT:
        return False
    if not single and item.get("type") not in TYPES:
        return False
    present = False
    for key in ("userId", "anonymousId"):
        value = item.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            return False
        present = present or value != ""
    if not present:
        return False
    for key in ("messageId", "event", "name", "category", "channel", "groupId", "previousId"):
        if item.get(key) is not None and not isinstance(item[key], str):
            return False
    for key in ("properties", "traits", "context", "integrations"):
        if item.get(key) is not None and not isinstance(item[key], dict):
            return False
    sent = item.get("sentAt", None)
    if sent is None:
        sent = batch_sent_at
    original = item.get("timestamp")
    if original is None:
        original = item.get("originalTimestamp")
    return all(value is None or _time_ok(value) for value in (sent, original))


def _expected(raw: bytes, headers: dict[str, str], path: str) -> tuple[int, list[int]]:
    """The documented status and the ``_k`` markers of the events a 200 stores."""
    if headers.get("X-Write-Key") == "wrong-key-0123456789":
        return 401, []
    if headers.get("Content-Encoding") == "gzip":
        try:
            raw = gzip.decompress(raw)
        except Exception:
            return 400, []
    if len(raw) > LIMIT:
        return 413, []
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return 400, []
    single = path not in ("/v1/batch", "/v1/b")
    if not isinstance(body, dict) or (not single and not isinstance(body.get("batch"), list)):
        return 400, []
    has_header_key = "Authorization" in headers or "X-Write-Key" in headers
    if not has_header_key and body.get("writeKey") != WRITE_KEY:
        return 401, []
    if single:
        return (200, [body["_k"]] if _valid(body, None, True) and "_k" in body else [])
    batch = body["batch"]
    if len(batch) > MAX_EVENTS:
        return 413, []
    sent = body.get("sentAt")
    return 200, [item["_k"] for item in batch if _valid(item, sent, False)]


_KEYED = {"Content-Type": "application/json", "X-Write-Key": WRITE_KEY}
_WRONG_KEY = {"Content-Type": "application/json", "X-Write-Key": "wrong-key-0123456789"}


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


def _item(k: int) -> dict[str, Any]:
    return {"type": "track", "event": "E", "userId": f"u{k}", "_k": k}


def test_fuzzed_requests_get_documented_answers(
    start_collector: Callable[..., RunningCollector],
) -> None:
    collector = start_collector(
        max_request_bytes=LIMIT, max_batch_events=MAX_EVENTS, strict_event_bytes=STRICT
    )
    client = httpx.Client(base_url=collector.url, timeout=30)
    seen = 0
    outcomes: Counter[tuple[int, bool]] = Counter()

    @settings(
        max_examples=300,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests())
    # Every documented answer, whatever the generator happens to reach on this run.
    @example(("/v1/track", _json({"type": "track", "userId": "u", "_k": 0}), _KEYED, None))
    @example(("/v1/track", b'{"type": "track", "userId"', _KEYED, None))
    @example(("/v1/track", _json({"type": "track", "userId": "u"}), _WRONG_KEY, None))
    @example(
        ("/v1/batch", _json({"batch": [_item(i) for i in range(MAX_EVENTS + 1)]}), _KEYED, None)
    )
    @example(("/v1/b", _json({"batch": [{**_item(0), "blob": "x" * LIMIT}]}), _KEYED, None))
    def check(request: tuple[str, bytes, dict[str, str], dict[str, Any] | None]) -> None:
        nonlocal seen
        path, raw, headers, _ = request
        status, markers = _expected(raw, headers, path)
        outcomes[(status, bool(markers))] += 1
        response = client.post(path, content=raw, headers=headers)
        assert response.status_code == status, (response.text, raw[:300], headers)
        body = response.json()
        assert body["success"] is (status == 200)
        logged = collector.payloads_after(seen)
        if logged:
            seen = logged[-1][0]
        new = [message for _, message in logged]
        assert [m.get("_k") for m in new] == markers
        for message in new:
            ReceivedEvent.from_message(message)
            assert "writeKey" not in message

    try:
        check()
    finally:
        client.close()
    # The generator reaches every answer, and 200s that store events.
    assert {(200, True), (400, False), (401, False), (413, False)} <= set(outcomes)
    assert collector.stats()["responses"]
