"""Interpreting a retry policy: which requests may be replayed, and how long to wait.

A request may be replayed only when it is idempotent — a safe method (GET,
HEAD, OPTIONS), or marked with an idempotency key — and its body is held in
memory (a streaming body is consumed by the first attempt).
"""

from __future__ import annotations

import email.utils
import math
import random
import time

import httpx

from syncline.sdk.spec import (
    Constant,
    Exponential,
    FailureReason,
    HeaderDriven,
    RetryAfter,
    RetryStrategy,
)

__all__ = [
    "IDEMPOTENT",
    "SAFE_METHODS",
    "is_idempotent",
    "is_replayable",
    "parse_retry_after",
    "retry_wait",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENT = "syncline.idempotent"
"""Request extension set by ``build_request(..., idempotency_key=...)``."""
_KEY_HEADERS = ("idempotency-key", "x-idempotency-key")


def is_idempotent(request: httpx.Request) -> bool:
    """True for safe methods, requests marked idempotent, or carrying an idempotency-key header."""
    if request.method in SAFE_METHODS or request.extensions.get(IDEMPOTENT):
        return True
    headers = request.headers
    return any(name in headers for name in _KEY_HEADERS)


def is_replayable(request: httpx.Request) -> bool:
    """True when the body can be sent again (held in memory, not a stream)."""
    return isinstance(request.stream, httpx.ByteStream)


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: seconds (decimals allowed) or an HTTP date.

    A date in the past gives 0. Returns None when the value is neither.
    """
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _backoff(strategy: Exponential, retry: int) -> float:
    # Full jitter: spreads clients that failed together over the whole window.
    return random.uniform(0.0, min(strategy.cap, strategy.base * 2.0 ** min(retry, 62)))


def retry_wait(
    strategy: RetryStrategy, response: httpx.Response | None, retry: int
) -> tuple[FailureReason, float, bool]:
    """(reason, seconds to wait, whether the server gave the wait) for the ``retry``-th retry.

    ``retry`` counts from 0 (the wait before the second attempt). A header-driven
    strategy without a usable header (or without a response: a network error)
    uses its fallback.
    """
    if isinstance(strategy, Exponential):
        return strategy.reason, _backoff(strategy, retry), False
    if isinstance(strategy, Constant):
        return strategy.reason, strategy.wait, False
    header = "retry-after" if isinstance(strategy, RetryAfter) else strategy.header
    raw = response.headers.get(header) if response is not None else None
    if raw is not None:
        wait: float | None
        if isinstance(strategy, HeaderDriven) and strategy.parse is not None:
            try:
                wait = float(strategy.parse(raw))
            except (ValueError, TypeError, ArithmeticError):
                wait = None
            if wait is not None and (math.isnan(wait) or wait < 0):
                wait = None
        else:
            wait = parse_retry_after(raw)
        if wait is not None:
            return strategy.reason, wait, True
    fallback = strategy.fallback
    return fallback.reason, _backoff(fallback, retry), False
