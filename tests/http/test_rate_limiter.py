"""The adaptive token bucket: unit tests with an injected clock, and real-time tests."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from http_fixtures import fast_group, make_spec

from syncline.http import Client
from syncline.http.limiter import (
    BACKOFF,
    HEADROOM,
    MIN_SCALE,
    Limiter,
    Limiters,
    LimiterTimeout,
    LocalLimiterState,
    usable_burst,
)
from syncline.sdk.spec import FailureReason, RateLimit
from syncline.sdk.testing.server import FaultServer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_burst_then_rate() -> None:
    # Burst 4 keeps one in reserve; 10/s spends 98 % of it.
    state = LocalLimiterState(RateLimit(10, burst=4), now=0.0)
    rate = 10 * HEADROOM
    assert usable_burst(4) == 3 and usable_burst(1) == 1 and usable_burst(20) == 18
    assert [await state.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await state.take(0.0) == pytest.approx(1 / rate)
    assert await state.take(0.5 / rate) == pytest.approx(0.5 / rate)
    assert await state.take(1 / rate) == 0.0
    # Idle time refills no more than the usable burst.
    assert [await state.take(100.0) for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    assert state.snapshot(100.0).tokens < 1.0


async def test_pause_holds_everything_until_the_end_and_longest_wins() -> None:
    state = LocalLimiterState(RateLimit(10, burst=5), now=0.0)
    await state.pause(0.0, 2.0)
    await state.pause(0.5, 1.0)  # shorter: ignored
    assert await state.take(1.0) == pytest.approx(1.0)
    assert state.estimate(1.0) >= 1.0
    # At the end of the pause one request may go; the next waits for the (reduced) rate.
    assert await state.take(2.0) == 0.0
    assert await state.take(2.0) > 0.0


async def test_429_lowers_the_ceiling_once_per_pause_and_recovers() -> None:
    state = LocalLimiterState(RateLimit(100, burst=1), now=0.0)
    await state.pause(0.0, 1.0)
    await state.pause(0.1, 1.2)  # same episode: no second cut
    assert state.rate(0.1) == pytest.approx(100 * HEADROOM * BACKOFF, rel=0.01)
    await state.pause(2.0, 3.0)  # a new episode after the pause ended
    assert state.snapshot(2.0).ceiling < BACKOFF
    assert state.rate(60.0) == pytest.approx(100.0 * HEADROOM)


async def test_errors_scale_down_to_the_floor_and_recover() -> None:
    state = LocalLimiterState(RateLimit(50, burst=1), now=0.0)
    for i in range(300):
        await state.record(i * 0.01, FailureReason.NET_FAILURE)
    configured = 50 * HEADROOM
    assert state.rate(3.0) == pytest.approx(configured * MIN_SCALE, rel=0.02)
    assert state.rate(3.0) >= configured * MIN_SCALE
    for i in range(40):
        await state.record(3.0 + i * 0.01, None)
    halfway = state.rate(4.0)
    assert configured * MIN_SCALE < halfway < configured
    for i in range(300):
        await state.record(4.0 + i * 0.01, None)
    assert state.rate(8.0) == pytest.approx(configured, rel=0.01)


async def test_permanent_and_unauthorized_leave_the_rate_alone() -> None:
    state = LocalLimiterState(RateLimit(50, burst=1), now=0.0)
    for reason in (FailureReason.PERMANENT, FailureReason.UNAUTHORIZED) * 50:
        await state.record(0.0, reason)
    assert state.rate(0.0) == 50 * HEADROOM
    assert state.snapshot(0.0).error_rate == 0.0


async def test_slowdown_counts_as_an_error() -> None:
    state = LocalLimiterState(RateLimit(50, burst=1), now=0.0)
    await state.record(0.0, FailureReason.SLOWDOWN)
    assert state.rate(0.0) < 50 * HEADROOM


async def test_limiter_honours_rate_and_burst_in_real_time() -> None:
    limit = RateLimit(50, burst=5)
    limiter = Limiter(limit, LocalLimiterState(limit, time.monotonic()))
    times: list[float] = []
    start = time.monotonic()

    async def one() -> None:
        await limiter.acquire()
        times.append(time.monotonic() - start)
        limiter.release()

    await asyncio.gather(*(one() for _ in range(30)))
    # 4 at once (one kept in reserve), then 26 more at 49/s: at least 0.53 s in all.
    assert times[-1] >= 26 / 50
    for n, t in enumerate(times):
        assert n <= 5 + t * 50 + 1e-6


async def test_waiters_are_served_first_come_first_served() -> None:
    limit = RateLimit(100, burst=1)
    limiter = Limiter(limit, LocalLimiterState(limit, time.monotonic()))
    order: list[int] = []

    async def one(n: int) -> None:
        await limiter.acquire()
        order.append(n)

    tasks = []
    for n in range(15):
        tasks.append(asyncio.create_task(one(n)))
        await asyncio.sleep(0)  # each task queues before the next starts
    await asyncio.gather(*tasks)
    assert order == list(range(15))


async def test_max_concurrent_caps_in_flight() -> None:
    limit = RateLimit(10_000, burst=100, max_concurrent=3)
    limiter = Limiter(limit, LocalLimiterState(limit, time.monotonic()))
    in_flight = peak = 0

    async def one() -> None:
        nonlocal in_flight, peak
        await limiter.acquire()
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        limiter.release()

    await asyncio.gather(*(one() for _ in range(20)))
    assert peak == 3


async def test_budget_fails_fast_and_cancel_takes_nothing() -> None:
    limit = RateLimit(1, burst=1)
    limiter = Limiter(limit, LocalLimiterState(limit, time.monotonic()))
    await limiter.acquire()
    started = time.monotonic()
    with pytest.raises(LimiterTimeout) as caught:
        await limiter.acquire(budget=0.05)
    assert time.monotonic() - started < 0.9  # did not sleep the whole second
    assert caught.value.wait > 0.5
    task = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limiter.estimate() > 0.5


async def test_estimate_counts_the_queue_and_the_pause() -> None:
    clock = FakeClock()
    limit = RateLimit(10, burst=1)
    limiter = Limiter(limit, LocalLimiterState(limit, clock.now), clock)
    assert limiter.estimate() == 0.0
    await limiter.acquire()
    assert limiter.estimate() == pytest.approx(0.1 / HEADROOM)
    await limiter.record(FailureReason.RATE_LIMITED, 5.0)
    assert limiter.estimate() >= 5.0


def test_limiters_share_by_key_and_renew_on_a_new_limit() -> None:
    limiters = Limiters()
    a = limiters.get(("app", "cred", "g"), RateLimit(5))
    assert limiters.get(("app", "cred", "g"), RateLimit(5)) is a
    assert limiters.get(("app", "other", "g"), RateLimit(5)) is not a
    assert limiters.get(("app", "cred", "g"), RateLimit(6)) is not a


async def test_client_sends_within_rate_and_burst_against_a_real_server(
    server: FaultServer,
) -> None:
    server.route("GET", "/x", lambda r: {})
    spec = make_spec(fast_group(rate=40, burst=5))
    sent: list[float] = []
    async with Client(spec) as client:
        client.on_send(lambda s: sent.append(time.monotonic()))
        started = time.monotonic()
        await asyncio.gather(*(client.request("GET", f"{server.url}/x") for _ in range(30)))
    usable = usable_burst(5)
    # The first `usable` go at once; the rest at (98 % of) 40/s.
    assert time.monotonic() - started >= (30 - usable) / 40
    for i, first in enumerate(sent):
        for j in range(i + 1, len(sent)):
            assert j - i + 1 <= usable + (sent[j] - first) * 40 * HEADROOM + 1e-6
    assert len(server.log) == 30


async def test_client_configured_too_high_converges(server: FaultServer) -> None:
    server.route("GET", "/x", lambda r: {})
    server.rate_limit(20, 2, retry_after="decimal")
    spec = make_spec(fast_group(rate=40, burst=2, max_attempts=20, deadline=30))
    async with Client(spec) as client:
        await asyncio.gather(*(client.request("GET", f"{server.url}/x") for _ in range(60)))
        stats = client.stats()["/"]
        ceiling = client._route(httpx.Request("GET", f"{server.url}/x")).limiter.state
    assert sum(r.status == 200 for r in server.log) == 60
    # Without adaptation nearly every other request would be refused.
    assert stats.rate_limited <= 15
    assert ceiling.snapshot(time.monotonic()).ceiling < 1.0
