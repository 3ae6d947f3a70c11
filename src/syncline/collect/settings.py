"""The collector's limits and tuning knobs, with the defaults clients expect."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CollectorSettings"]

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CollectorSettings:
    """Limits of one collector.

    * ``max_request_bytes`` — the body limit (4 MB, RudderStack's, so both
      client families fit), checked while the body streams in and again on the
      inflated bytes of a gzip body: an over-size request gets 413 and the
      collector never holds more than this much of it.
    * ``max_batch_events`` — events in one request (Segment's 2,500); more
      gets 413 and nothing is stored.
    * ``strict_event_bytes`` — when set (Segment's rule is 32 KB), an event
      whose JSON is larger is rejected on its own; ``None`` (the default)
      accepts events of any size within the request limit, as RudderStack
      clients send them.
    * ``max_backlog`` — events in the log (not yet pruned by delivery) plus
      events waiting to be committed; at or above it requests get 429 with
      ``Retry-After: retry_after_seconds``.
    * ``max_commit_events`` — the most events one group commit writes.
    * ``key_cache_seconds`` — how long a write key → source lookup is reused;
      a rotated or removed key stops working within this time.
    * ``recent_rejections`` — how many rejections the ring keeps for
      inspection.
    """

    max_request_bytes: int = 4 * MB
    max_batch_events: int = 2_500
    strict_event_bytes: int | None = None
    max_backlog: int = 1_000_000
    retry_after_seconds: int = 5
    max_commit_events: int = 20_000
    key_cache_seconds: float = 5.0
    recent_rejections: int = 200

    def __post_init__(self) -> None:
        for name in (
            "max_request_bytes",
            "max_batch_events",
            "max_backlog",
            "retry_after_seconds",
            "max_commit_events",
            "recent_rejections",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"collector setting {name} must be at least 1")
        if self.strict_event_bytes is not None and self.strict_event_bytes < 1:
            raise ValueError("collector setting strict_event_bytes must be at least 1 or unset")
        if self.key_cache_seconds < 0:
            raise ValueError("collector setting key_cache_seconds must not be negative")
