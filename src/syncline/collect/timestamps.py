"""Correcting a message's ``timestamp`` for the client's clock skew, cheaply.

The rule (Segment's): a message's corrected time is ``receivedAt − (sentAt −
originalTimestamp)``: the time the client says the event happened, moved by how
far the client's clock is from the collector's. Without ``sentAt`` the client's
time is kept as it is; without a time at all the event happened when it was
received. Every time is written as Segment writes times: ISO 8601 in UTC with
milliseconds (truncated, not rounded) and ``Z`` (:func:`format_time`).

:func:`corrected_time` is the rule, with ``datetime`` arithmetic throughout.
:class:`TimeCorrector` gives exactly the same answers (the same text, the same
:class:`InvalidTime`) for every input, at about half the cost (measured) for the
form every Segment and RudderStack client sends, ``YYYY-MM-DDTHH:MM:SS.mmmZ``:
such a text is read as integer milliseconds through a cache of its
``YYYY-MM-DDTHH:MM:`` prefix and small tables for the seconds and milliseconds,
and the corrected time is written back the same way. Any other text (another
offset, another precision, a date alone, a leap second) goes through
:func:`corrected_time`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

__all__ = ["InvalidTime", "TimeCorrector", "corrected_time", "format_time", "parse_time"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE: Final = timedelta(minutes=1)
_MICROSECOND: Final = timedelta(microseconds=1)

# "SS" -> milliseconds and "mmm" -> milliseconds: a look-up both checks the
# digits (int() would accept " 5", "+5" or non-ASCII digits) and converts them.
_SECONDS: Final = {f"{s:02d}": 1000 * s for s in range(60)}
_MILLIS: Final = {f"{m:03d}": m for m in range(1000)}
_SECOND_TEXT: Final = tuple(f"{s:02d}." for s in range(60))
_MILLI_TEXT: Final = tuple(f"{m:03d}Z" for m in range(1000))

# Distinct minutes remembered; past it the caches start again (a client sending
# times spread over years costs a little more, never unbounded memory).
_MAX_MINUTES = 4096


class InvalidTime(Exception):
    """A time field is not ISO 8601, or the corrected time is out of range.

    ``field`` is ``"sentAt"`` or ``"timestamp"`` (also for a bad
    ``originalTimestamp``, which stands in for a missing ``timestamp``).
    """

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as Segment writes times."""
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def parse_time(value: Any, field: str) -> datetime:
    """An ISO 8601 time, timezone-aware (a time without offset is UTC).

    ``InvalidTime(field)`` when ``value`` is not a string ``datetime.fromisoformat``
    reads.
    """
    if not isinstance(value, str):
        raise InvalidTime(field)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidTime(field) from None
    if parsed.tzinfo is None:
        # Segment clients always send an offset; a naive time can only be UTC.
        return parsed.replace(tzinfo=UTC)
    return parsed


def corrected_time(received_at: datetime, sent: Any, original: Any) -> str:
    """The corrected ``timestamp`` text of one message (see the module docs).

    ``sent`` and ``original`` are the message's ``sentAt`` and original time as
    sent (``None`` when absent). ``InvalidTime("sentAt")`` when ``sent`` is
    given and unreadable (checked first), ``InvalidTime("timestamp")`` when
    ``original`` is unreadable or the corrected time falls outside years
    1–9999.
    """
    sent_at = None if sent is None else parse_time(sent, "sentAt")
    if original is None:
        return format_time(received_at)
    original_at = parse_time(original, "timestamp")
    try:
        if sent_at is None:
            return format_time(original_at)
        return format_time(received_at - (sent_at - original_at))
    except (OverflowError, ValueError):
        raise InvalidTime("timestamp") from None


class TimeCorrector:
    """:func:`corrected_time` for the messages of one request, with a fast path.

    Built once per request with its receipt time; :meth:`corrected` then gives
    the same result as ``corrected_time(received_at, sent, original)`` for any
    ``sent`` and ``original``. The minute caches may be shared between requests
    (pass ``minutes`` from :meth:`minutes_cache`); they hold only pure functions
    of their keys.
    """

    __slots__ = (
        "_minute_of",
        "_offset",
        "_prefix_of",
        "_received_at",
        "_received_ms",
        "_sent",
        "received_text",
    )

    def __init__(
        self,
        received_at: datetime,
        minutes: tuple[dict[str, int], dict[int, str]] | None = None,
    ) -> None:
        self._received_at = received_at
        # Truncated to the millisecond: every fast-path input is whole
        # milliseconds, so truncating first truncates the sum the same way.
        self._received_ms = ((received_at - _EPOCH) // _MICROSECOND) // 1000
        self.received_text = format_time(received_at)
        """``receivedAt`` as written into every message of the request."""
        self._minute_of, self._prefix_of = minutes or self.minutes_cache()
        # The last sentAt seen and receivedAt − sentAt in milliseconds (None:
        # not canonical): a batch's messages nearly always share one sentAt.
        self._sent: Any = None
        self._offset: int | None = None

    @staticmethod
    def minutes_cache() -> tuple[dict[str, int], dict[int, str]]:
        """Empty caches for :class:`TimeCorrector` (prefix → minute, minute → prefix)."""
        return {}, {}

    def corrected(self, sent: Any, original: Any) -> str:
        """The corrected ``timestamp`` text; ``InvalidTime`` as :func:`corrected_time`."""
        if sent is None:
            if original is None:
                return self.received_text
            if self._milliseconds(original) is not None:
                # A canonical text is already what format_time would write.
                return original  # type: ignore[no-any-return]
            return corrected_time(self._received_at, None, original)
        if sent is not self._sent:
            sent_ms = self._milliseconds(sent)
            self._sent = sent
            self._offset = None if sent_ms is None else self._received_ms - sent_ms
        offset = self._offset
        if offset is None:
            return corrected_time(self._received_at, sent, original)
        if original is None:
            return self.received_text
        original_ms = self._milliseconds(original)
        if original_ms is None:
            return corrected_time(self._received_at, sent, original)
        minute, rest = divmod(offset + original_ms, 60_000)
        prefix = self._prefix_of.get(minute)
        if prefix is None:
            prefix = self._minute_prefix(minute)
        second, milli = divmod(rest, 1000)
        return prefix + _SECOND_TEXT[second] + _MILLI_TEXT[milli]

    def _milliseconds(self, text: Any) -> int | None:
        """Milliseconds since the epoch of a ``YYYY-MM-DDTHH:MM:SS.mmmZ`` text, else ``None``."""
        if not isinstance(text, str) or len(text) != 24 or text[23] != "Z" or text[19] != ".":
            return None
        minute = self._minute_of.get(text[:17])
        if minute is None:
            start = self._learn(text[:17])
            if start is None:
                return None
        else:
            start = 60_000 * minute
        second = _SECONDS.get(text[17:19])
        milli = _MILLIS.get(text[20:23])
        if second is None or milli is None:
            return None
        return start + second + milli

    def _learn(self, prefix: str) -> int | None:
        """Epoch milliseconds at a canonical ``YYYY-MM-DDTHH:MM:`` prefix (cached), else ``None``."""
        try:
            start = datetime.fromisoformat(prefix + "00")
        except ValueError:
            return None
        # Only the exact canonical spelling takes the fast path (fromisoformat
        # also reads other separators, which format_time would rewrite).
        if start.tzinfo is not None or start.isoformat() != prefix + "00":
            return None
        minute = (start.replace(tzinfo=UTC) - _EPOCH) // _MINUTE
        self._remember(prefix, minute)
        return 60_000 * minute

    def _minute_prefix(self, minute: int) -> str:
        """``YYYY-MM-DDTHH:MM:`` of a minute since the epoch; ``InvalidTime`` out of range."""
        try:
            start = _EPOCH + timedelta(minutes=minute)
        except OverflowError:
            raise InvalidTime("timestamp") from None
        prefix = start.isoformat()[:17]
        self._remember(prefix, minute)
        return prefix

    def _remember(self, prefix: str, minute: int) -> None:
        """Cache a prefix and its minute since the epoch, both ways."""
        if len(self._minute_of) >= _MAX_MINUTES:
            self._minute_of.clear()
            self._prefix_of.clear()
        self._minute_of[prefix] = minute
        self._prefix_of[minute] = prefix
