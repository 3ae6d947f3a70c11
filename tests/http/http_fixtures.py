"""Small specs for the managed HTTP client tests (imported as ``http_fixtures``)."""

from __future__ import annotations

from typing import Any

from syncline.sdk.spec import (
    ApplicationSpec,
    AsSource,
    EndpointGroup,
    RateLimit,
    RetryPolicy,
    Timeouts,
)


def make_spec(*groups: EndpointGroup, **extra: object) -> ApplicationSpec:
    """A source spec with ``groups`` (default: one fast group matching everything)."""
    if not groups:
        groups = (fast_group(),)
    return ApplicationSpec(
        code="test-app",
        label="Test App",
        as_source=AsSource(targets=("users",)),
        endpoint_groups=groups,
        **extra,  # type: ignore[arg-type]
    )


def fast_group(
    patterns: tuple[str, ...] = ("/",),
    *,
    rate: float = 1000.0,
    burst: int = 100,
    max_attempts: int = 4,
    deadline: float = 5.0,
    timeouts: Timeouts | None = None,
    retry: RetryPolicy | None = None,
    **extra: object,
) -> EndpointGroup:
    """A group with a generous limit and a short, test-friendly retry policy."""
    policy = retry or RetryPolicy.default().extend(max_attempts=max_attempts, deadline=deadline)
    return EndpointGroup(
        patterns=patterns,
        rate_limit=RateLimit(rate, burst=burst),
        retry=policy,
        timeouts=timeouts or Timeouts(connect=2.0, read=2.0, total=3.0),
        **extra,  # type: ignore[arg-type]
    )


def count_ca_loads(monkeypatch: Any) -> list[object]:
    """The CA bundles loaded into SSL contexts from now on (one entry per load)."""
    import ssl

    loads: list[object] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    return loads
