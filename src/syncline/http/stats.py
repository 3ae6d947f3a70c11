"""Per-endpoint-group counters and the capture hook for tests."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace

__all__ = ["LATENCY_BUCKETS", "GroupStats", "SentRequest"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Upper bounds (seconds) of the latency histogram; a last bucket counts the rest."""


@dataclass(slots=True)
class GroupStats:
    """What one endpoint group of one client did.

    ``requests`` counts attempts actually sent (retries included); ``retries``
    the attempts after the first of each request; ``rate_limited`` the 429
    answers; ``failures`` attempts that ended in a network error or a status
    the caller did not accept. ``limiter_wait`` is seconds spent waiting for
    the rate limiter. Latency is from the first byte sent to the last byte
    read, for attempts that got a response: ``latency_sum``/``latency_count``
    give the mean, ``latency_histogram[i]`` counts latencies up to
    ``LATENCY_BUCKETS[i]`` (the last entry: above them all).
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    failures: int = 0
    limiter_wait: float = 0.0
    latency_sum: float = 0.0
    latency_count: int = 0
    latency_max: float = 0.0
    latency_histogram: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))

    def observe(self, latency: float) -> None:
        self.latency_sum += latency
        self.latency_count += 1
        if latency > self.latency_max:
            self.latency_max = latency
        self.latency_histogram[bisect.bisect_left(LATENCY_BUCKETS, latency)] += 1

    def copy(self) -> GroupStats:
        return replace(self, latency_histogram=list(self.latency_histogram))


@dataclass(frozen=True, slots=True)
class SentRequest:
    """One attempt as it went on the wire (credentials included: for tests only).

    ``attempt`` counts from 1 within one ``send`` call; ``group`` is the endpoint
    group's name.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    attempt: int
    group: str
