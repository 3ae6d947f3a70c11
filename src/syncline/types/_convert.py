"""Value conversions the compiled validators call for the lenient input forms.

Each converter takes one non-null input value and returns its canonical form,
or raises :class:`Reject` with the broken rule and a message that never
contains the value. The compiled code turns a :class:`Reject` into a
:class:`~syncline.types.ValidationError` carrying the property path.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _dec
import ipaddress
import math
import re
import uuid as _uuid
from collections.abc import Callable, Mapping
from typing import Any

from syncline.types import _model as m
from syncline.types._layouts import UNIX_LAYOUTS

__all__ = [
    "Reject",
    "date_parser",
    "datetime_parser",
    "decimal_converter",
    "time_parser",
    "to_boolean",
    "to_float",
    "to_int",
    "to_ip",
    "to_json_value",
    "to_uuid",
    "to_year",
]

UTC = _dt.UTC
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)
_PER_SECOND = {"unix": 1, "unixmilli": 1_000, "unixmicro": 1_000_000, "unixnano": 1_000_000_000}
_FLOAT_EXACT = 2**31
# Below 2**31 s a float quotient of an int timestamp is within 0.25 µs of the
# true instant, so rounding it to microseconds is exact. Layout -> (units per
# second, exclusive bound on the int for that to hold).
FLOAT_EXACT_UNIX = {
    layout: (per_second, _FLOAT_EXACT * per_second)
    for layout, per_second in _PER_SECOND.items()
    if per_second <= 1_000_000
}
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MAX_JSON_DEPTH = 500


class Reject(Exception):
    """A value broke *rule*; *message* says how without quoting the value."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(rule, message)
        self.rule = rule
        self.message = message


def _integral(number: _dec.Decimal | float) -> int:
    # Shared by int and year: an integral float/Decimal counts as an integer.
    if isinstance(number, float):
        if not number.is_integer():
            raise Reject("type", "not an integer")
        return int(number)
    if not number.is_finite() or number != number.to_integral_value():
        raise Reject("type", "not an integer")
    if number.adjusted() > 40:
        # "1e999999999" is integral, but building that int would take forever;
        # no int kind holds more than 20 digits.
        raise Reject("range", "outside the range of a 64-bit integer")
    return int(number)


def to_int(v: Any) -> int:
    """An int from an int, an integral float/Decimal or a numeric string; never a bool."""
    if isinstance(v, bool):
        raise Reject("type", "a boolean is not an integer")
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float | _dec.Decimal):
        return _integral(v)
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            pass
        try:
            number = _dec.Decimal(v)
        except _dec.InvalidOperation:
            raise Reject("format", "not a numeric string") from None
        return _integral(number)
    raise Reject("type", "not an integer")


def to_float(v: Any) -> float:
    """A float from a float, int, Decimal or numeric string (incl. "NaN", "Infinity")."""
    if isinstance(v, bool):
        raise Reject("type", "a boolean is not a number")
    if isinstance(v, int | float | _dec.Decimal):
        try:
            return float(v)
        except OverflowError:
            raise Reject("range", "outside the range of a float") from None
        except ValueError:
            raise Reject("type", "a signaling NaN is not a number") from None
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            raise Reject("format", "not a numeric string") from None
    raise Reject("type", "not a number")


def decimal_converter(t: m.Decimal) -> Callable[[Any], _dec.Decimal]:
    """A converter to a Decimal quantized to ``t.scale`` (half-even) within ``t``'s bounds.

    Excess fractional digits are rounded, as SQL ``NUMERIC(p, s)`` does; excess
    integer digits are a ``precision`` error.
    """
    quantum = _dec.Decimal(1).scaleb(-t.scale)
    limit = t.precision - t.scale  # integer digits allowed
    # Context methods take positional arguments; passing context= costs more than the work.
    quantize = _dec.Context(
        prec=m.MAX_DECIMAL_PRECISION + 2, rounding=_dec.ROUND_HALF_EVEN
    ).quantize
    low, high = t.min, t.max
    bounded = low is not None or high is not None
    overflow = _dec.Decimal(1).scaleb(limit)  # exact: 10 ** (precision - scale)
    precision_message = (
        f"more than {limit} integer digits (precision {t.precision}, scale {t.scale})"
    )
    range_message = f"outside the range [{low}, {high}]"
    decimal_type = _dec.Decimal

    def convert(v: Any) -> _dec.Decimal:
        if type(v) is str:
            try:
                number = decimal_type(v)
            except _dec.InvalidOperation:
                raise Reject("format", "not a numeric string") from None
        elif type(v) is decimal_type:
            number = v
        elif isinstance(v, bool):
            raise Reject("type", "a boolean is not a number")
        elif isinstance(v, int | decimal_type):
            number = decimal_type(v)
        elif isinstance(v, float):
            number = decimal_type(repr(v))
        else:
            raise Reject("type", "not a decimal number")
        if not number.is_finite():
            raise Reject("range", "not a finite number")
        try:
            result = quantize(number, quantum)
        except _dec.InvalidOperation:
            # More digits than the context holds: far beyond any precision.
            raise Reject("precision", precision_message) from None
        # Checked after rounding, which can carry into one more digit (99.995 -> 100.00).
        if not -overflow < result < overflow:
            raise Reject("precision", precision_message)
        if bounded and ((low is not None and result < low) or (high is not None and result > high)):
            raise Reject("range", range_message)
        return result

    return convert


def _aware_utc(value: _dt.datetime) -> _dt.datetime:
    tz = value.tzinfo
    if tz is UTC:
        return value
    if tz is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise Reject("range", "outside the years 1..9999 once converted to UTC") from None


def _unix_reader(layout: str) -> Callable[[float], _dt.datetime]:
    """Instants given as *layout* units since the epoch: exact for ints, nearest µs for floats."""
    per_second = _PER_SECOND[layout]
    # Below 2**31 s a float quotient is within 0.25 µs, so rounding it is exact.
    float_exact = _FLOAT_EXACT * per_second if per_second <= 1_000_000 else 0
    fromtimestamp = _dt.datetime.fromtimestamp

    def read(v: float) -> _dt.datetime:
        try:
            if type(v) is int:
                if per_second == 1:
                    return fromtimestamp(v, UTC)
                if -float_exact < v < float_exact:
                    return fromtimestamp(v / per_second, UTC)
                if per_second <= 1_000_000:
                    micros = v * (1_000_000 // per_second)
                else:
                    micros = v // (per_second // 1_000_000)
                return _EPOCH + _dt.timedelta(microseconds=micros)
            if not math.isfinite(v):
                raise Reject("range", "not a finite number")
            return fromtimestamp(v / per_second, UTC)
        except (OverflowError, OSError, ValueError):
            raise Reject("range", "outside the years 1..9999") from None

    return read


def datetime_parser(layout: str | None) -> Callable[[Any], _dt.datetime]:
    """A converter to an aware UTC datetime for the given datetime *layout*.

    Accepts datetime objects (naive = UTC), date objects (midnight UTC), strings
    in the layout and then in ISO 8601, and for unix layouts ints, floats and
    numeric strings.
    """
    fromiso = _dt.datetime.fromisoformat
    datetime_type = _dt.datetime
    strptime = _dt.datetime.strptime
    unix = _unix_reader(layout) if layout is not None and layout in UNIX_LAYOUTS else None
    text_layout = None if unix else layout
    message = _format_message(layout)

    def parse_text(v: str) -> _dt.datetime:
        if text_layout is not None:
            try:
                return _aware_utc(strptime(v, text_layout))
            except ValueError:
                pass
        try:
            return _aware_utc(fromiso(v))
        except ValueError:
            pass
        if unix is not None:
            # Signed, fractional or exponent forms of a timestamp; ints stay exact.
            try:
                return unix(int(v))
            except ValueError:
                pass
            try:
                return unix(float(v))
            except ValueError:
                pass
        raise Reject("format", message)

    def parse(v: Any) -> _dt.datetime:
        if type(v) is str:
            if unix is not None and len(v) < 40 and v.isascii() and v.isdigit():
                return unix(int(v))
            if text_layout is None:
                # ISO 8601, the common case, without further calls.
                try:
                    moment = fromiso(v)
                except ValueError:
                    return parse_text(v)
                return moment if moment.tzinfo is UTC else _aware_utc(moment)
            return parse_text(v)
        if unix is not None and (type(v) is int or type(v) is float):
            return unix(v)
        if type(v) is datetime_type:
            return _aware_utc(v)
        if isinstance(v, _dt.datetime):
            # Subclasses (a dataframe library's timestamp) become plain datetimes.
            plain = datetime_type(
                v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, v.tzinfo
            )
            return _aware_utc(plain)
        if isinstance(v, _dt.date):
            return datetime_type(v.year, v.month, v.day, tzinfo=UTC)
        raise Reject("type", "not a datetime")

    return parse


def _format_message(layout: str | None) -> str:
    if layout is None:
        return "not an ISO 8601 datetime"
    if layout in UNIX_LAYOUTS:
        return f"neither a {layout} timestamp nor an ISO 8601 datetime"
    return "matches neither the datetime layout nor ISO 8601"


def date_parser(layout: str | None) -> Callable[[Any], _dt.date]:
    """A converter to a date: date objects (not datetimes), layout or ISO strings."""
    fromiso = _dt.date.fromisoformat
    strptime = _dt.datetime.strptime

    def parse(v: Any) -> _dt.date:
        if type(v) is str:
            if layout is not None:
                try:
                    return strptime(v, layout).date()
                except ValueError:
                    pass
            try:
                return fromiso(v)
            except ValueError:
                raise Reject("format", "not a date in the layout or ISO 8601") from None
        if isinstance(v, _dt.datetime):
            raise Reject("type", "a datetime is not a date")
        if isinstance(v, _dt.date):
            return _dt.date(v.year, v.month, v.day)
        raise Reject("type", "not a date")

    return parse


def _naive_time(value: _dt.time) -> _dt.time:
    if value.tzinfo is None:
        return value
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=None)
    # A time with an offset has no date, so it is shifted on a fixed day and wraps.
    moment = _dt.datetime.combine(_dt.date(2000, 1, 2), value.replace(tzinfo=None)) - offset
    return moment.time()


def time_parser(layout: str | None) -> Callable[[Any], _dt.time]:
    """A converter to a naive time (UTC when an offset was given): time objects or strings."""
    fromiso = _dt.time.fromisoformat
    strptime = _dt.datetime.strptime

    def parse(v: Any) -> _dt.time:
        if type(v) is str:
            if layout is not None:
                try:
                    return _naive_time(strptime(v, layout).timetz())
                except ValueError:
                    pass
            try:
                return _naive_time(fromiso(v))
            except ValueError:
                raise Reject("format", "not a time in the layout or ISO 8601") from None
        if isinstance(v, _dt.time):
            return _naive_time(v)
        raise Reject("type", "not a time")

    return parse


def to_year(v: Any) -> int:
    """A year 1..9999 from an int, integral float/Decimal or numeric string."""
    year = to_int(v)
    if not 1 <= year <= 9999:
        raise Reject("range", "outside the years 1..9999")
    return year


def to_uuid(v: Any) -> str:
    """A lowercase hyphenated UUID string from a UUID or any form :class:`uuid.UUID` reads."""
    if type(v) is str:
        if CANONICAL_UUID.fullmatch(v) is not None:
            return v
        try:
            return str(_uuid.UUID(v))
        except ValueError:
            raise Reject("format", "not a UUID") from None
    if isinstance(v, _uuid.UUID):
        return str(v)
    raise Reject("type", "not a UUID")


def to_ip(v: Any) -> str:
    """The canonical string of an IPv4/IPv6 address given as a string or ipaddress object."""
    if isinstance(v, str):
        try:
            return str(ipaddress.ip_address(v))
        except ValueError:
            raise Reject("format", "not an IP address") from None
    if isinstance(v, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(v)
    raise Reject("type", "not an IP address")


def to_boolean(v: Any) -> bool:
    """A bool from a bool or the strings "true"/"false"."""
    if v is True or v is False:
        return bool(v)
    if v == "true":
        return True
    if v == "false":
        return False
    if isinstance(v, str):
        raise Reject("format", 'not "true" or "false"')
    raise Reject("type", "not a boolean")


def to_json_value(v: Any, depth: int = 0) -> Any:
    """A copy of a JSON-able value: tuples become lists; NaN/±Inf and non-str keys are refused."""
    if v is None or v is True or v is False or type(v) is str or type(v) is int:
        return v
    if type(v) is float:
        if not math.isfinite(v):
            raise Reject("type", "NaN and Infinity are not JSON values")
        return v
    if depth >= _MAX_JSON_DEPTH:
        raise Reject("depth", f"nested deeper than {_MAX_JSON_DEPTH} levels")
    if isinstance(v, list | tuple):
        return [to_json_value(item, depth + 1) for item in v]
    if isinstance(v, Mapping):
        out: dict[str, Any] = {}
        for key, item in v.items():
            if type(key) is not str:
                raise Reject("type", "a JSON object key is not a string")
            out[key] = to_json_value(item, depth + 1)
        return out
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, bool | int):
        return bool(v) if isinstance(v, bool) else int(v)
    if isinstance(v, float):
        return to_json_value(float(v), depth)
    raise Reject("type", "not a JSON value")
