"""Adaptive rate limiting: one token bucket per endpoint group and credential.

A :class:`Limiter` admits requests in arrival order (FIFO, no busy loop: a
waiter sleeps exactly until its token is due) and caps requests in flight at
``max_concurrent``. Its budget lives in a :class:`LimiterState`; the in-process
:class:`LocalLimiterState` is the default, and a store-backed state can share one
budget between processes by implementing the same protocol.

Headroom: the bucket spends :data:`HEADROOM` of the declared rate and keeps
:data:`BURST_RESERVE` of the burst (at least one request when the burst is
above 1) in reserve. The app's bucket and ours run on different clocks, and
network jitter can make requests sent exactly at the limit arrive faster than
it; the reserve absorbs that, so a client at the published limit sees no 429.

How the rate adapts (``configured`` is the declared rate times the headroom)::

    rate = configured * max(0.2, ceiling * (1 - 0.8 * error_rate))

* ``error_rate`` is an exponential moving average over outcomes (weight
  :data:`ERROR_WEIGHT` per outcome): a ``SLOWDOWN`` or ``NET_FAILURE`` counts 1,
  a success counts 0; ``PERMANENT`` and ``UNAUTHORIZED`` outcomes leave it alone.
  Rising 5xx and network errors therefore slow the group down, and successes
  bring it back.
* a ``RATE_LIMITED`` outcome pauses the whole bucket until the time the server
  asked for (the longest pause wins) and, once per pause, multiplies
  ``ceiling`` by :data:`BACKOFF`. ``ceiling`` climbs back by :data:`RECOVERY`
  of the configured rate per second. A limit set higher than the app's real one
  thus converges below it instead of hitting 429 on every burst.
* the rate never drops below 20 % of the configured rate.

All times are seconds on the limiter's clock (``time.monotonic`` unless a
clock is injected, e.g. in tests).
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from syncline.sdk.spec import FailureReason, RateLimit

__all__ = [
    "BACKOFF",
    "BURST_RESERVE",
    "ERROR_WEIGHT",
    "HEADROOM",
    "MIN_SCALE",
    "RECOVERY",
    "Limiter",
    "LimiterSnapshot",
    "LimiterState",
    "LimiterTimeout",
    "Limiters",
    "LocalLimiterState",
    "StateFactory",
    "shared_limiters",
    "usable_burst",
]

MIN_SCALE = 0.2
"""The rate never drops below this fraction of the configured rate."""
ERROR_WEIGHT = 0.05
"""Weight of one outcome in the error-rate moving average (about the last 20 outcomes)."""
BACKOFF = 0.7
"""Factor applied to the rate ceiling on the first 429 of a pause."""
RECOVERY = 0.05
"""Fraction of the configured rate the ceiling regains per second after a 429."""
HEADROOM = 0.98
"""Fraction of the declared ``requests_per_second`` the bucket spends."""
BURST_RESERVE = 0.1
"""Fraction of the declared ``burst`` kept in reserve (rounded up, leaving at least 1)."""

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class LimiterSnapshot:
    """The budget as of one moment: effective rate, tokens, pause end, error rate."""

    rate: float
    tokens: float
    paused_until: float
    error_rate: float
    ceiling: float


class LimiterState(Protocol):
    """The budget of one endpoint group for one credential.

    ``now`` is the limiter's clock. An implementation shared between processes
    must read every process's ``now`` on one timeline (e.g. wall-clock time from
    the store) and apply each call atomically.
    """

    async def take(self, now: float) -> float:
        """Take one token and return 0.0, or take nothing and return the seconds until one is due."""
        ...

    def estimate(self, now: float) -> float:
        """Seconds until a token would be due, without taking one (may be approximate)."""
        ...

    def rate(self, now: float) -> float:
        """The effective requests per second now."""
        ...

    async def pause(self, now: float, until: float) -> None:
        """Admit nothing before ``until``; a longer pause already set wins."""
        ...

    async def record(self, now: float, reason: FailureReason | None) -> None:
        """Account one outcome: None for a success, else why the attempt failed."""
        ...

    def snapshot(self, now: float) -> LimiterSnapshot: ...


def usable_burst(burst: int) -> int:
    """The part of a declared burst the bucket uses (see :data:`BURST_RESERVE`)."""
    return max(1, burst - math.ceil(burst * BURST_RESERVE)) if burst > 1 else 1


class LocalLimiterState:
    """An in-process :class:`LimiterState` (see the module docstring for the rules)."""

    __slots__ = (
        "_burst",
        "_ceiling",
        "_configured",
        "_error",
        "_paused_until",
        "_rate",
        "_tokens",
        "_updated",
    )

    def __init__(self, limit: RateLimit, now: float) -> None:
        self._configured = limit.requests_per_second * HEADROOM
        self._burst = float(usable_burst(limit.burst))
        self._tokens = self._burst
        self._updated = now
        self._paused_until = now
        self._error = 0.0
        self._ceiling = 1.0
        self._rate = self._configured

    def _advance(self, now: float) -> None:
        elapsed = now - self._updated
        if elapsed <= 0:
            return
        if self._ceiling < 1.0:
            self._ceiling = min(1.0, self._ceiling + RECOVERY * elapsed)
            self._rescale()
        if now > self._paused_until:
            # Tokens accrue only outside a pause; refill starts when the pause ends.
            since = now - max(self._updated, self._paused_until)
            self._tokens = min(self._burst, self._tokens + since * self._rate)
        self._updated = now

    def _rescale(self) -> None:
        scale = self._ceiling * (1.0 - (1.0 - MIN_SCALE) * self._error)
        self._rate = self._configured * max(MIN_SCALE, scale)

    async def take(self, now: float) -> float:
        self._advance(now)
        if now < self._paused_until:
            return self._paused_until - now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._rate

    def estimate(self, now: float) -> float:
        self._advance(now)
        if now < self._paused_until:
            return self._paused_until - now + max(0.0, 1.0 - self._tokens) / self._rate
        return max(0.0, 1.0 - self._tokens) / self._rate

    def rate(self, now: float) -> float:
        self._advance(now)
        return self._rate

    async def pause(self, now: float, until: float) -> None:
        self._advance(now)
        if until <= self._paused_until:
            return
        if now >= self._paused_until:
            # First 429 of this pause: lower the ceiling once, not once per refused request.
            self._ceiling = max(MIN_SCALE, self._ceiling * BACKOFF)
            self._rescale()
        self._paused_until = until
        # One request may go at the end of the pause; the rest follow at the rate.
        self._tokens = min(self._tokens, 1.0)

    async def record(self, now: float, reason: FailureReason | None) -> None:
        if reason is None:
            sample = 0.0
        elif reason in (FailureReason.SLOWDOWN, FailureReason.NET_FAILURE):
            sample = 1.0
        else:
            return
        self._advance(now)
        self._error += ERROR_WEIGHT * (sample - self._error)
        self._rescale()

    def snapshot(self, now: float) -> LimiterSnapshot:
        self._advance(now)
        return LimiterSnapshot(
            self._rate, self._tokens, self._paused_until, self._error, self._ceiling
        )


class LimiterTimeout(Exception):
    """The limiter would admit the request only after the caller's time budget.

    ``wait`` is the estimated seconds until admission.
    """

    def __init__(self, wait: float) -> None:
        super().__init__(f"the rate limiter would admit the request in {wait:.3f} s")
        self.wait = wait


class Limiter:
    """Admits requests to one endpoint group for one credential.

    Two steps, usable apart: ``acquire_slot`` waits for a concurrency slot
    (when ``max_concurrent`` is set) and ``acquire_token`` for a token; the
    managed client takes the slot before it sends and the token at the moment
    the request is written, so its own scheduling delays cannot bunch requests
    on the wire. ``acquire`` does both. Waiters are served first come, first
    served. Every slot taken must be freed with one ``release``, and every
    attempt's outcome told with one ``record``.
    """

    def __init__(self, limit: RateLimit, state: LimiterState, clock: Clock = time.monotonic):
        self.limit = limit
        self.state = state
        self._clock = clock
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(limit.max_concurrent) if limit.max_concurrent else None
        self._waiting = 0

    async def acquire(self, budget: float | None = None) -> float:
        """Take a slot, then a token; return the seconds waited.

        Raises :class:`LimiterTimeout` (holding nothing) as ``acquire_token`` does.
        """
        start = self._clock()
        await self.acquire_slot(budget)
        try:
            left = None if budget is None else budget - (self._clock() - start)
            await self.acquire_token(left)
        except BaseException:
            self.release()
            raise
        return self._clock() - start

    async def acquire_slot(self, budget: float | None = None) -> None:
        """Wait for a concurrency slot (at once when there is no ``max_concurrent``).

        Raises :class:`LimiterTimeout` after waiting ``budget`` seconds.
        """
        slots = self._slots
        if slots is None:
            return
        self._waiting += 1
        try:
            async with asyncio.timeout(budget):
                await slots.acquire()
        except TimeoutError:
            raise LimiterTimeout(self.estimate()) from None
        finally:
            self._waiting -= 1

    async def acquire_token(self, budget: float | None = None) -> float:
        """Wait for a token; return the seconds waited.

        Raises :class:`LimiterTimeout` without waiting when the token is due
        only after ``budget`` seconds, or after waiting ``budget`` seconds in
        the queue. A cancelled wait takes nothing.
        """
        start = self._clock()
        if not self._lock.locked() and await self.state.take(start) <= 0:
            return 0.0  # fast path: nobody queued and a token is there
        self._waiting += 1
        try:
            async with asyncio.timeout(budget), self._lock:
                while True:
                    now = self._clock()
                    wait = await self.state.take(now)
                    if wait <= 0:
                        break
                    if budget is not None and now + wait > start + budget:
                        raise LimiterTimeout(now + wait - start)
                    await asyncio.sleep(wait)
        except TimeoutError:
            raise LimiterTimeout(self.estimate()) from None
        finally:
            self._waiting -= 1
        return self._clock() - start

    def release(self) -> None:
        """Free the concurrency slot taken by ``acquire_slot`` (or ``acquire``)."""
        if self._slots is not None:
            self._slots.release()

    async def record(self, reason: FailureReason | None, wait: float = 0.0) -> None:
        """Account an attempt's outcome; ``RATE_LIMITED`` pauses the bucket ``wait`` seconds."""
        now = self._clock()
        if reason is FailureReason.RATE_LIMITED:
            await self.state.pause(now, now + wait)
        await self.state.record(now, reason)

    def estimate(self) -> float:
        """Seconds a request arriving now would wait: the token due plus the queue ahead."""
        now = self._clock()
        wait = self.state.estimate(now)
        if self._waiting:
            wait += self._waiting / self.state.rate(now)
        return wait


StateFactory = Callable[[tuple[str, ...], RateLimit, float], LimiterState]


def _local_state(key: tuple[str, ...], limit: RateLimit, now: float) -> LimiterState:
    return LocalLimiterState(limit, now)


class Limiters:
    """Limiters by key, typically ``(connector code, credential, group name)``.

    Clients that share a ``Limiters`` and a key share one budget.
    ``make_state(key, limit, now)`` makes a budget (default: a
    :class:`LocalLimiterState`); a store-backed factory shares budgets between
    processes. Use one ``Limiters`` per
    event loop: the limiters' asyncio primitives belong to the loop that first
    waits on them.
    """

    def __init__(self, make_state: StateFactory = _local_state, clock: Clock = time.monotonic):
        self._make_state = make_state
        self._clock = clock
        self._limiters: dict[tuple[str, ...], Limiter] = {}

    def get(self, key: tuple[str, ...], limit: RateLimit) -> Limiter:
        """The limiter for ``key``, created with ``limit`` on first use.

        A key already in use with a different limit gets a fresh limiter (the
        connector's spec changed), so one key never mixes two limits.
        """
        limiter = self._limiters.get(key)
        if limiter is None or limiter.limit != limit:
            limiter = Limiter(limit, self._make_state(key, limit, self._clock()), self._clock)
            self._limiters[key] = limiter
        return limiter


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Limiters] = (
    weakref.WeakKeyDictionary()
)


def shared_limiters() -> Limiters:
    """The process's in-memory ``Limiters`` for the running event loop."""
    loop = asyncio.get_running_loop()
    limiters = _shared.get(loop)
    if limiters is None:
        limiters = _shared[loop] = Limiters()
    return limiters
