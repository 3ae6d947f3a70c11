"""Time layouts: how an app writes datetimes, dates and times as strings or numbers."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

__all__ = ["UNIX_LAYOUTS", "TimeLayouts"]

UNIX_LAYOUTS = ("unix", "unixmilli", "unixmicro", "unixnano")
"""Datetime layouts meaning a number of seconds/ms/µs/ns since 1970-01-01T00:00:00Z."""

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_UNIT_NS = {"unix": 1_000_000_000, "unixmilli": 1_000_000, "unixmicro": 1_000, "unixnano": 1}
_SAMPLE = _dt.datetime(2001, 2, 3, 4, 5, 6, 7000, tzinfo=_dt.UTC)


def _check_format(field: str, layout: object) -> None:
    if type(layout) is not str:
        raise TypeError(f"TimeLayouts: {field} must be a str or None")
    if "%" not in layout:
        raise ValueError(
            f"TimeLayouts: {field} layout {layout!r} has no strftime directive; use a "
            "format such as '%Y-%m-%d %H:%M:%S', or None for ISO 8601"
        )
    try:
        _SAMPLE.strftime(layout)
    except ValueError as exc:
        raise ValueError(f"TimeLayouts: {field} layout {layout!r} is invalid: {exc}") from None


@dataclass(frozen=True, slots=True)
class TimeLayouts:
    """The layouts an app uses for time values; ``None`` means ISO 8601.

    ``datetime`` is ``None``, one of ``"unix"``, ``"unixmilli"``, ``"unixmicro"``,
    ``"unixnano"`` (a number of seconds, milliseconds, microseconds or
    nanoseconds since the Unix epoch, given as a number or a numeric string), or
    a :func:`datetime.datetime.strptime` / ``strftime`` format such as
    ``"%Y-%m-%d %H:%M:%S"``. ``date`` and ``time`` are ``None`` or such a format.

    Parsing (see :func:`syncline.types.compile`) tries the layout first and then
    ISO 8601, so ISO strings are always understood. A format without ``%z``
    parses to UTC.
    """

    datetime: str | None = None
    date: str | None = None
    time: str | None = None

    def __post_init__(self) -> None:
        if self.datetime is not None and self.datetime not in UNIX_LAYOUTS:
            _check_format("datetime", self.datetime)
        if self.date is not None:
            _check_format("date", self.date)
        if self.time is not None:
            _check_format("time", self.time)

    def format_datetime(self, value: _dt.datetime) -> str | int:
        """*value* in the datetime layout: an int for unix layouts, else a string.

        A naive *value* is taken as UTC; an aware one is converted to UTC. The
        ISO form is ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``. Unix layouts truncate
        toward the past to whole units.
        """
        value = value.replace(tzinfo=_dt.UTC) if value.tzinfo is None else value
        value = value.astimezone(_dt.UTC)
        layout = self.datetime
        if layout is None:
            return value.replace(tzinfo=None).isoformat() + "Z"
        if layout in _UNIT_NS:
            delta = value - _EPOCH
            micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
            return (micros * 1000) // _UNIT_NS[layout]
        return value.strftime(layout)

    def format_date(self, value: _dt.date) -> str:
        """*value* in the date layout (ISO ``YYYY-MM-DD`` by default)."""
        return value.isoformat() if self.date is None else value.strftime(self.date)

    def format_time(self, value: _dt.time) -> str:
        """*value* in the time layout (ISO ``HH:MM:SS[.ffffff]`` by default)."""
        return value.isoformat() if self.time is None else value.strftime(self.time)
