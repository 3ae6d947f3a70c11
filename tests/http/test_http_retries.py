"""Retries, idempotency, Retry-After, timeouts and typed errors, against the real fault server."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from http_fixtures import fast_group, make_spec

from syncline.http import Client
from syncline.sdk.errors import (
    AuthError,
    ConnectorError,
    PermanentError,
    RateLimited,
    RetryableError,
)
from syncline.sdk.spec import (
    Constant,
    EndpointGroup,
    FailureReason,
    HeaderDriven,
    RateLimit,
    RetryAfter,
    RetryPolicy,
    Timeouts,
)
from syncline.sdk.testing.server import HANG, RESET, FaultServer, Reply, Step

QUICK = Timeouts(connect=1.0, read=1.0, total=0.4)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Reply(429, retry_after=0.01, retry_after_form="decimal"), RateLimited),
        (500, RetryableError),
        (503, RetryableError),
        (RESET, RetryableError),
        (HANG, RetryableError),
        (Reply(200, body=b"0123456789", truncate=3), RetryableError),
    ],
    ids=["429", "500", "503", "reset", "timeout", "truncated"],
)
async def test_post_without_idempotency_mark_is_sent_once(
    server: FaultServer, fault: Step, error: type[ConnectorError]
) -> None:
    server.script("/items", [fault] * 5 + [200])
    async with Client(make_spec(fast_group(timeouts=QUICK))) as client:
        with pytest.raises(error) as caught:
            await client.request("POST", f"{server.url}/items", json={"name": "x"})
        await asyncio.sleep(0.2)  # nothing may arrive late either
    assert len(server.requests("/items")) == 1
    assert caught.value.retryable
    assert "not idempotent" in str(caught.value)
    assert f"POST {server.url}/items" in str(caught.value)


@pytest.mark.parametrize("mark", ["key-1", True])
async def test_marked_post_is_retried_within_the_cap(server: FaultServer, mark: str | bool) -> None:
    server.script("/items", [503, RESET, 200])
    async with Client(make_spec(fast_group(max_attempts=4))) as client:
        response = await client.request(
            "POST", f"{server.url}/items", json={"n": 1}, idempotency_key=mark
        )
        assert response.status_code == 200
        assert client.stats()["/"].retries == 2
    received = server.requests("/items")
    assert len(received) == 3
    assert {r.body for r in received} == {b'{"n":1}'}
    expected = mark if isinstance(mark, str) else None
    assert {r.header("idempotency-key") for r in received} == {expected}


async def test_every_retry_counts_toward_max_attempts(server: FaultServer) -> None:
    server.script("/x", [503] * 10)
    async with Client(make_spec(fast_group(max_attempts=3))) as client:
        with pytest.raises(RetryableError) as caught:
            await client.request("GET", f"{server.url}/x")
    assert len(server.requests("/x")) == 3
    assert caught.value.status == 503
    assert "after 3 attempts" in str(caught.value)


async def test_idempotency_key_header_set_by_the_caller_counts(server: FaultServer) -> None:
    server.script("/x", [502, 200])
    async with Client(make_spec()) as client:
        await client.request("PUT", f"{server.url}/x", headers={"Idempotency-Key": "k"})
    assert len(server.requests("/x")) == 2


async def test_streaming_body_is_never_replayed(server: FaultServer) -> None:
    server.script("/upload", [503, 200])

    async def chunks() -> AsyncIterator[bytes]:
        yield b"part-1"
        yield b"part-2"

    async with Client(make_spec()) as client:
        request = httpx.Request(
            "PUT", f"{server.url}/upload", content=chunks(), headers={"Idempotency-Key": "k"}
        )
        with pytest.raises(RetryableError):
            await client.send(request)
    assert [r.body for r in server.requests("/upload")] == [b"part-1part-2"]


async def test_retry_after_seconds_and_date_are_honoured(server: FaultServer) -> None:
    server.script(
        "/x",
        [
            Reply(429, retry_after=1),
            Reply(429, retry_after=1, retry_after_form="date"),
            Reply(503, retry_after=0.5, retry_after_form="decimal"),
            200,
        ],
    )
    policy = RetryPolicy.default().extend({503: RetryAfter()}, deadline=10)
    async with Client(make_spec(fast_group(retry=policy))) as client:
        assert (await client.request("GET", f"{server.url}/x")).status_code == 200
    first, second, third, fourth = server.requests("/x")
    assert first.answered_at and second.answered_at and third.answered_at
    assert second.arrived_at >= first.answered_at + 1.0
    # The HTTP date is whole seconds, rounded up by the server: never earlier than this.
    assert third.arrived_at >= math.ceil(second.answered_at + 1.0)
    assert fourth.arrived_at >= third.answered_at + 0.5


async def test_a_429_storm_pauses_every_caller(server: FaultServer) -> None:
    server.route("GET", "/x", lambda r: {})
    server.rate_limit(2, 2, retry_after="seconds")
    spec = make_spec(
        EndpointGroup(
            patterns=("/",),
            rate_limit=RateLimit(100, burst=10, max_concurrent=1),
            retry=RetryPolicy.default().extend(max_attempts=10, deadline=20),
            timeouts=QUICK,
        )
    )
    async with Client(spec) as client:
        await asyncio.gather(*(client.request("GET", f"{server.url}/x") for _ in range(5)))
    log = server.requests("/x")
    assert sum(r.status == 200 for r in log) == 5
    assert any(r.status == 429 for r in log)
    for before, after in itertools.pairwise(log):
        if before.status == 429:
            assert before.answered_at is not None
            assert after.arrived_at >= before.answered_at + 1.0


async def test_header_driven_and_constant_strategies(server: FaultServer) -> None:
    server.script("/x", [Reply(429, headers={"X-Reset-After": "0.4"}), 500, 200])
    policy = RetryPolicy(rules={429: HeaderDriven("X-Reset-After"), 500: Constant(0.3)}, deadline=5)
    async with Client(make_spec(fast_group(retry=policy))) as client:
        await client.request("GET", f"{server.url}/x")
    a, b, c = server.requests("/x")
    assert a.answered_at is not None and b.answered_at is not None
    assert b.arrived_at >= a.answered_at + 0.4
    assert c.arrived_at >= b.answered_at + 0.3


async def test_retry_after_beyond_the_deadline_fails_at_once(server: FaultServer) -> None:
    server.script("/x", [Reply(429, retry_after=30), 200])
    started = time.monotonic()
    async with Client(make_spec(fast_group(deadline=2))) as client:
        with pytest.raises(RateLimited) as caught:
            await client.request("GET", f"{server.url}/x")
        # The bucket stays paused: the engine can see it before starting more work.
        assert client.wait_time("GET", f"{server.url}/x") > 25
    assert time.monotonic() - started < 5.0  # not the 30 s asked for
    assert caught.value.retry_after == pytest.approx(30, abs=1)
    assert caught.value.status == 429
    assert len(server.requests("/x")) == 1


async def test_a_server_that_never_answers_fails_at_the_deadline(server: FaultServer) -> None:
    server.script("/x", [HANG] * 10)
    group = fast_group(deadline=0.5, timeouts=Timeouts(connect=1, read=5, total=5))
    started = time.monotonic()
    async with Client(make_spec(group)) as client:
        with pytest.raises(RetryableError, match="deadline") as caught:
            await client.request("GET", f"{server.url}/x")
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 3.0
    assert caught.value.status is None


async def test_total_timeout_bounds_a_trickling_server(server: FaultServer) -> None:
    server.script("/x", [Reply(200, body=b"x" * 100, trickle=0.05)] * 3)
    group = fast_group(max_attempts=1, timeouts=Timeouts(connect=1, read=1, total=0.5))
    started = time.monotonic()
    async with Client(make_spec(group)) as client:
        with pytest.raises(RetryableError, match=r"Timeouts\.total"):
            await client.request("GET", f"{server.url}/x")
    assert 0.45 <= time.monotonic() - started < 3.0


async def test_read_timeout_between_bytes(server: FaultServer) -> None:
    server.script("/x", [Reply(200, delay=1.0)])
    group = fast_group(max_attempts=1, timeouts=Timeouts(connect=1, read=0.2, total=5))
    async with Client(make_spec(group)) as client:
        with pytest.raises(RetryableError, match="ReadTimeout"):
            await client.request("GET", f"{server.url}/x")


async def test_truncated_and_reset_gets_are_retried(server: FaultServer) -> None:
    server.script("/x", [Reply(200, body=b"0123456789", truncate=2), RESET, Reply(json={"a": 1})])
    async with Client(make_spec()) as client:
        response = await client.request("GET", f"{server.url}/x")
    assert response.json() == {"a": 1}
    assert len(server.requests("/x")) == 3


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PermanentError),
        (404, PermanentError),
        (422, PermanentError),
        (401, AuthError),
        (403, AuthError),
        (302, PermanentError),
    ],
)
async def test_status_errors_are_typed_and_not_retried(
    server: FaultServer, status: int, error: type[ConnectorError]
) -> None:
    server.script("/x", [Reply(status, json={"message": "nope"}), 200])
    async with Client(make_spec()) as client:
        with pytest.raises(error) as caught:
            await client.request("GET", f"{server.url}/x")
    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.body == b'{"message":"nope"}'
    assert len(server.requests("/x")) == 1


async def test_accepted_status_is_returned(server: FaultServer) -> None:
    server.script("/x", [Reply(404, json={"missing": True})])
    async with Client(make_spec()) as client:
        response = await client.request("GET", f"{server.url}/x", accept=(404,))
    assert response.status_code == 404 and response.json() == {"missing": True}


async def test_exhausted_rate_limit_raises_rate_limited_with_hint(server: FaultServer) -> None:
    server.script("/x", [Reply(429, retry_after=0.1, retry_after_form="decimal")] * 5)
    async with Client(make_spec(fast_group(max_attempts=2))) as client:
        with pytest.raises(RateLimited) as caught:
            await client.request("GET", f"{server.url}/x?api_key=SECRET-1")
    assert caught.value.retry_after == pytest.approx(0.1)
    assert "api_key=[REDACTED]" in str(caught.value) and "SECRET-1" not in repr(caught.value)
    assert len(server.requests("/x")) == 2


async def test_5xx_slow_the_group_down(server: FaultServer) -> None:
    server.script("/x", [500] * 40)
    policy = RetryPolicy(rules={500: Constant(0.0, reason=FailureReason.SLOWDOWN)}, max_attempts=40)
    async with Client(make_spec(fast_group(rate=1000, burst=1000, retry=policy))) as client:
        with pytest.raises(RetryableError):
            await client.request("GET", f"{server.url}/x")
        route = client._route(httpx.Request("GET", f"{server.url}/x"))
        assert route.limiter.state.rate(time.monotonic()) < 500


async def test_a_request_never_written_may_go_again_even_a_post(server: FaultServer) -> None:
    url = server.url
    await server.stop()  # nothing listens on the port any more: connections are refused
    async with Client(make_spec(fast_group(max_attempts=3))) as client:
        with client.capture() as sent, pytest.raises(RetryableError) as caught:
            await client.request("POST", f"{url}/items", json={"a": 1})
        assert client.stats()["/"].failures == 3
    assert sent == []  # no attempt reached the wire
    assert "ConnectError" in str(caught.value) and "after 3 attempts" in str(caught.value)


async def test_limiter_wait_past_the_deadline_raises_without_sending(server: FaultServer) -> None:
    server.route("GET", "/x", lambda r: {})
    async with Client(make_spec(fast_group(rate=1, burst=1, deadline=0.3))) as client:
        await client.request("GET", f"{server.url}/x")
        with pytest.raises(RateLimited, match=r"past RetryPolicy\.deadline") as caught:
            await client.request("GET", f"{server.url}/x")
        assert client._hook_works  # tokens are taken at the wire, through httpcore's trace hook
    assert caught.value.retry_after is not None and caught.value.retry_after > 0.5
    assert len(server.log) == 1
