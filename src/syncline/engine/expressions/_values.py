"""Value semantics shared by filters and mappings: missing, equality, order, coercion.

Every function here is total: it returns a value or raises :class:`EvalError`
(only the conversions do), never another exception, whatever Python values a
record holds. Comparisons never raise at all: values of incompatible kinds
simply do not compare.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import json
import math
import uuid
from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "MISSING",
    "EvalError",
    "as_datetime",
    "compare",
    "equal",
    "format_datetime",
    "is_null",
    "kind",
    "parse_datetime",
    "to_string",
]


class _Missing:
    """The value of a path that is not in the record (distinct from a JSON null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final[Any] = _Missing()


class EvalError(Exception):
    """A function or operator could not compute a value for one record.

    *function* names it, *message* says why in a fixed text without the value.
    Mappings turn it into :class:`~.errors.MappingError`; filters into null.
    """

    def __init__(self, function: str, message: str) -> None:
        super().__init__(function, message)
        self.function = function
        self.message = message


def is_null(value: Any) -> bool:
    return value is None or value is MISSING


# Kinds group Python values that compare with each other. bool is its own kind
# (True is not 1); int, float and Decimal are all "number".
_KINDS: Final[dict[type, str]] = {
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    decimal.Decimal: "number",
    dt.datetime: "datetime",
    dt.date: "date",
    dt.time: "time",
    list: "array",
    tuple: "array",
    dict: "object",
}


def kind(value: Any) -> str:
    """The kind of *value*: string, boolean, number, datetime, date, time, array,
    object, null, or the Python type name for anything else."""
    if value is None or value is MISSING:
        return "null"
    found = _KINDS.get(type(value))
    if found is not None:
        return found
    for base, name in _KINDS.items():
        if isinstance(value, base):
            return name
    return type(value).__name__


def parse_datetime(text: str) -> dt.datetime | None:
    """An ISO 8601 datetime (or date, taken as midnight) as an aware UTC datetime.

    A value without offset is taken as UTC; ``Z`` is accepted. None if *text* is
    not ISO 8601.
    """
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return as_datetime(value)


def as_datetime(value: dt.datetime) -> dt.datetime:
    """*value* as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def _parse_time(text: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError:
        return None


_STRING_TO: Final[dict[str, Callable[[str], Any]]] = {
    "datetime": parse_datetime,
    "date": _parse_date,
    "time": _parse_time,
}


def _comparable(a: Any, b: Any) -> tuple[Any, Any] | None:
    """*a* and *b* made comparable, or None when their kinds do not compare.

    Same kinds compare as they are; a string compares with a datetime, date or
    time when it parses as ISO 8601 of that kind. Datetimes are compared in UTC.
    """
    ka, kb = kind(a), kind(b)
    if ka == kb:
        if ka == "datetime":
            return as_datetime(a), as_datetime(b)
        if ka == "time" and (a.tzinfo is None) != (b.tzinfo is None):
            return None
        if ka == "number" and type(a) is not type(b):
            # A float meets a Decimal as the digits it prints (0.1 -> Decimal('0.1')),
            # which is what a user wrote, not its binary approximation.
            if type(a) is float and math.isfinite(a) and isinstance(b, decimal.Decimal):
                return decimal.Decimal(repr(a)), b
            if type(b) is float and math.isfinite(b) and isinstance(a, decimal.Decimal):
                return a, decimal.Decimal(repr(b))
        return a, b
    if ka == "string" and kb in _STRING_TO:
        a = _STRING_TO[kb](a)
        if a is None:
            return None
        return _comparable(a, b)
    if kb == "string" and ka in _STRING_TO:
        b = _STRING_TO[ka](b)
        if b is None:
            return None
        return _comparable(a, b)
    return None


def equal(a: Any, b: Any) -> bool:
    """``a = b``: null (or missing) equals only null; otherwise the values must be of
    comparable kinds and equal. Lists and objects are equal element by element
    under these same rules (so ``[true]`` is not ``[1]``). Never raises."""
    if a is None or a is MISSING:
        return b is None or b is MISSING
    if b is None or b is MISSING:
        return False
    ta, tb = type(a), type(b)
    if ta is tb and (ta is str or ta is int):
        return bool(a == b)
    pair = _comparable(a, b)
    if pair is None:
        return False
    x, y = pair
    try:
        if isinstance(x, list | tuple):
            return len(x) == len(y) and all(equal(i, j) for i, j in zip(x, y, strict=True))
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(equal(x[k], y[k]) for k in x)
        return bool(x == y)
    except (TypeError, ValueError, ArithmeticError, RecursionError):
        # RecursionError: values nested deeper than Python can walk compare
        # as unequal rather than failing the run.
        return False


_ORDERED: Final = frozenset({"string", "number", "datetime", "date", "time"})


def compare(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 as *a* sorts before, with or after *b*; None when they do not
    order (null, missing, incompatible kinds, NaN). Strings order by code point."""
    if a is None or a is MISSING or b is None or b is MISSING:
        return None
    pair = _comparable(a, b)
    if pair is None or kind(pair[0]) not in _ORDERED:
        return None
    x, y = pair
    try:
        if x < y:
            return -1
        if x > y:
            return 1
        if x == y:
            return 0
    except (TypeError, ValueError, ArithmeticError):
        return None
    return None  # NaN orders with nothing


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal | dt.date | dt.time):
        return to_string(value, "to_string")
    raise TypeError


def to_string(value: Any, function: str) -> Any:
    """The text form of *value* (see docs/expressions.md, ``to_string``).

    Null and missing are returned unchanged. Raises EvalError for values with no
    text form (a float NaN or infinity, an unknown Python type).
    """
    if value is None or value is MISSING:
        return value
    t = type(value)
    if t is str:
        return value
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is float:
        if not math.isfinite(value):
            raise EvalError(function, "the number is not finite")
        return repr(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise EvalError(function, "the number is not finite")
        return str(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value, None, function)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, list | tuple | dict):
        try:
            return json.dumps(
                value, ensure_ascii=False, separators=(",", ":"), default=_json_default
            )
        except (TypeError, ValueError, RecursionError):
            raise EvalError(function, "the value cannot be written as JSON") from None
    raise EvalError(function, f"a value of kind {kind(value)} has no text form")


_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
UNIX_NS: Final[dict[str, int]] = {
    "unix": 1_000_000_000,
    "unixmilli": 1_000_000,
    "unixmicro": 1_000,
    "unixnano": 1,
}


def format_datetime(value: dt.datetime, layout: str | None, function: str) -> Any:
    """*value* (naive = UTC) in *layout*: ISO ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` for
    None, an int for the unix layouts, else ``strftime(layout)`` in UTC."""
    value = as_datetime(value)
    if layout is None:
        return value.replace(tzinfo=None).isoformat() + "Z"
    unit = UNIX_NS.get(layout)
    if unit is not None:
        delta = value - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return (micros * 1000) // unit
    try:
        return value.strftime(layout)
    except ValueError:
        raise EvalError(function, "the layout is not a valid strftime format") from None
