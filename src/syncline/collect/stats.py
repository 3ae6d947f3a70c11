"""Counters of what the collector answered, accepted and rejected, and recent rejections.

Kept in memory by the serving process (they restart at zero with it) and read
through ``GET /v1/_stats`` or ``syncline sources stats``. Nothing here holds a
value of an event: a rejection is its type, reason, field name and source.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncline.collect.normalize import Rejection
from syncline.collect.timestamps import format_time

__all__ = ["CollectorStats", "RecentRejection"]


@dataclass(frozen=True, slots=True)
class RecentRejection:
    """One rejected event, as the ring keeps it."""

    at: datetime
    source: str
    type: str | None
    reason: str
    field: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": format_time(self.at),
            "source": self.source,
            "type": self.type,
            "reason": self.reason,
            "field": self.field,
        }


class CollectorStats:
    """Responses by status, events accepted and rejected per source, a ring of rejections."""

    def __init__(self, recent: int) -> None:
        self.responses: Counter[int] = Counter()
        self.accepted: Counter[str] = Counter()
        self.rejected: dict[str, Counter[str]] = {}
        self.recent: deque[RecentRejection] = deque(maxlen=recent)

    def response(self, status: int) -> None:
        self.responses[status] += 1

    def record(self, source: str, accepted: int, rejections: list[Rejection], at: datetime) -> None:
        """Count one stored request's outcome."""
        self.accepted[source] += accepted
        if not rejections:
            return
        reasons = self.rejected.setdefault(source, Counter())
        for rejection in rejections:
            reasons[rejection.reason] += 1
            self.recent.append(
                RecentRejection(at, source, rejection.type, rejection.reason, rejection.field)
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "responses": {str(status): n for status, n in sorted(self.responses.items())},
            "accepted": dict(sorted(self.accepted.items())),
            "rejected": {
                source: dict(sorted(reasons.items()))
                for source, reasons in sorted(self.rejected.items())
            },
            "recent_rejections": [r.to_json() for r in reversed(self.recent)],
        }
