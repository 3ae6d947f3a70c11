"""Where a read of PagerDuty incidents stands: a creation-time window and an offset in it.

PagerDuty's classic pagination refuses ``offset + limit > 10000`` with a 400,
so a collection larger than that cannot be paged from one query. Incidents
can be narrowed by creation time (``since``/``until``, at most six months
apart), so a read walks consecutive half-open windows ``[since, until)`` of
creation time from the oldest incident to the instant the read started, and
pages each window by offset. A window found (through ``total=true`` on its
first page) to hold more than the ceiling is halved before any of it is
read, as often as needed.

The cursor is a compact JSON text holding the read's end, the window and the
offset — everything needed to continue in another process. Windows never
overlap and created-at never changes, so with ``sort_by=created_at`` every
incident created before the read started is returned exactly once (PagerDuty
could answer an incident at a boundary in both windows if it treats
``until`` as inclusive; duplicates are allowed by the contract).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import orjson

from syncline.sdk import PermanentError

__all__ = ["DEPTH_CEILING", "MAX_WINDOW", "PAGE_SIZE", "Window", "format_time", "parse_time"]

DEPTH_CEILING = 10_000
"""``offset + limit`` may not exceed this (PagerDuty answers 400 beyond it)."""
PAGE_SIZE = 100
"""PagerDuty's largest ``limit``."""
MAX_WINDOW = timedelta(days=180)
"""Widest window asked for: PagerDuty refuses ``since``/``until`` more than six months apart."""
_VERSION = 1


def format_time(value: datetime) -> str:
    """``value`` as ISO 8601 in UTC with a ``Z`` (microseconds kept when not zero)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """An ISO 8601 timestamp as PagerDuty writes it (``2024-05-06T09:00:00Z``), made aware in UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """One position of an incidents read: window ``[since, until)``, ``offset`` in it, read ``end``."""

    since: datetime
    until: datetime
    offset: int
    end: datetime

    @classmethod
    def first(cls, oldest: datetime, end: datetime) -> Window:
        """The first window of a read over incidents created from ``oldest`` up to ``end``."""
        return cls(oldest, min(oldest + MAX_WINDOW, end), 0, end)

    @property
    def done(self) -> bool:
        """True once every window up to the read's end was read."""
        return self.since >= self.end

    def at(self, offset: int) -> Window:
        return replace(self, offset=offset)

    def following(self) -> Window:
        """The next window, as wide as PagerDuty allows (a halved window grows back)."""
        return Window(self.until, min(self.until + MAX_WINDOW, self.end), 0, self.end)

    def halved(self) -> Window:
        """The first half of this window, at offset 0.

        Raises ``PermanentError`` when the window is one second or less: more
        incidents than the ceiling created within one second cannot be listed
        through this API at all.
        """
        span = self.until - self.since
        if span <= timedelta(seconds=1):
            raise PermanentError(
                f"more than {DEPTH_CEILING} incidents were created within one second; "
                "PagerDuty's list API cannot page past that many, narrow the read with "
                "the 'service_ids' setting"
            )
        # Whole seconds keep the bounds readable in requests and cursors.
        half = timedelta(seconds=span.total_seconds() // 2)
        return Window(self.since, self.since + half, 0, self.end)

    def encode(self) -> str:
        return orjson.dumps(
            {
                "v": _VERSION,
                "s": format_time(self.since),
                "u": format_time(self.until),
                "o": self.offset,
                "e": format_time(self.end),
            }
        ).decode()

    @classmethod
    def decode(cls, cursor: str) -> Window:
        """Read a cursor made by :meth:`encode`; ``PermanentError`` when it is not one."""
        try:
            data = orjson.loads(cursor)
            if data["v"] != _VERSION:
                raise ValueError(data["v"])
            window = cls(
                parse_time(data["s"]), parse_time(data["u"]), int(data["o"]), parse_time(data["e"])
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise PermanentError(
                "the incidents cursor is not one this connector wrote; start the read over "
                "without a cursor"
            ) from error
        if window.offset < 0 or window.until < window.since:
            raise PermanentError("the incidents cursor is inconsistent; start the read over")
        return window
