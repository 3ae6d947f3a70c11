"""The mapping functions. Each takes evaluated arguments and returns a value.

Null propagation: a function documented as "null in, null out" returns its
argument unchanged when that argument is null or missing, so a missing input
stays missing (and the output property is left out) while a null input gives
null. Wrong kinds of arguments raise :class:`EvalError` with a fixed message.
``if`` is not here: it evaluates lazily and lives in the compiler.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ._values import (
    MISSING,
    UNIX_NS,
    EvalError,
    as_datetime,
    format_datetime,
    kind,
    parse_datetime,
    to_string,
)

__all__ = ["FUNCTIONS", "Function", "arithmetic", "negate"]


@dataclass(frozen=True, slots=True)
class Function:
    """A function's name, its arity range (*max_args* None = any) and code."""

    name: str
    min_args: int
    max_args: int | None
    impl: Callable[..., Any]

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.min_args == self.max_args:
            n = self.min_args
            return f"{n} argument{'s' if n != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


def _string(name: str, value: Any, what: str = "the value") -> str:
    if type(value) is not str:
        raise EvalError(name, f"{what} must be a string, not {kind(value)}")
    return value


def _null(*values: Any) -> Any:
    """MISSING if any value is missing, else None (all values are null)."""
    return MISSING if any(v is MISSING for v in values) else None


def _lower(s: Any) -> Any:
    if type(s) is str:
        return s.lower()
    if s is None or s is MISSING:
        return s
    return _string("lower", s).lower()


def _upper(s: Any) -> Any:
    if type(s) is str:
        return s.upper()
    if s is None or s is MISSING:
        return s
    return _string("upper", s).upper()


def _trim(s: Any) -> Any:
    if type(s) is str:
        return s.strip()
    if s is None or s is MISSING:
        return s
    return _string("trim", s).strip()


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value is not MISSING:
            return value
    return _null(*values)


def _concat(*values: Any) -> Any:
    parts = [
        v if type(v) is str else to_string(v, "concat")
        for v in values
        if v is not None and v is not MISSING
    ]
    if not parts:
        return _null(*values)
    return "".join(parts)


def _split(s: Any, sep: Any) -> Any:
    if s is None or s is MISSING:
        return s
    text = _string("split", s)
    separator = _string("split", sep, "the separator")
    if not separator:
        raise EvalError("split", "the separator must not be empty")
    return text.split(separator)


def _join(items: Any, sep: Any) -> Any:
    if items is None or items is MISSING:
        return items
    if not isinstance(items, list | tuple):
        raise EvalError("join", f"the first argument must be an array, not {kind(items)}")
    separator = _string("join", sep, "the separator")
    return separator.join(to_string(v, "join") for v in items if v is not None)


def _substring(s: Any, start: Any, length: Any = None) -> Any:
    if s is None or s is MISSING:
        return s
    text = _string("substring", s)
    if type(start) is not int or start < 1:
        raise EvalError("substring", "the start must be an integer of at least 1")
    if length is None:
        return text[start - 1 :]
    if type(length) is not int or length < 0:
        raise EvalError("substring", "the length must be a non-negative integer")
    return text[start - 1 : start - 1 + length]


def _replace(s: Any, old: Any, new: Any) -> Any:
    if s is None or s is MISSING:
        return s
    text = _string("replace", s)
    old_text = _string("replace", old, "the text to replace")
    if not old_text:
        raise EvalError("replace", "the text to replace must not be empty")
    return text.replace(old_text, _string("replace", new, "the replacement"))


def _len(value: Any) -> Any:
    if value is None or value is MISSING:
        return value
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    raise EvalError("len", f"the value must be a string, array or object, not {kind(value)}")


def _now() -> Any:
    return dt.datetime.now(dt.UTC)


_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _to_int(value: Any) -> Any:
    if value is None or value is MISSING:
        return value
    t = type(value)
    if t is int:
        return value
    if t is str:
        if value.isdigit() and value.isascii():
            return int(value)
        text = value.strip()
        if _INT_TEXT.fullmatch(text):
            return int(text)
        raise EvalError("to_int", "the string is not an integer")
    if t is float or isinstance(value, decimal.Decimal):
        finite = value.is_finite() if isinstance(value, decimal.Decimal) else math.isfinite(value)
        if not finite:
            raise EvalError("to_int", "the number is not finite")
        if value != int(value):
            raise EvalError("to_int", "the number has a fractional part")
        return int(value)
    raise EvalError("to_int", f"a value of kind {kind(value)} cannot become an integer")


def _to_float(value: Any) -> Any:
    if value is None or value is MISSING:
        return value
    t = type(value)
    if t is str:
        text = value.strip()
        if not _NUMBER_TEXT.fullmatch(text):
            raise EvalError("to_float", "the string is not a number")
        value = text
    elif t is not int and t is not float and not isinstance(value, decimal.Decimal):
        raise EvalError("to_float", f"a value of kind {kind(value)} cannot become a number")
    try:
        result = float(value)
    except OverflowError:
        raise EvalError("to_float", "the number is too large for a float") from None
    if not math.isfinite(result):
        raise EvalError("to_float", "the number is not finite")
    return result


def _to_decimal(value: Any) -> Any:
    if value is None or value is MISSING:
        return value
    t = type(value)
    if t is str:
        text = value.strip()
        if not _NUMBER_TEXT.fullmatch(text):
            raise EvalError("to_decimal", "the string is not a number")
        return decimal.Decimal(text)
    if t is int:
        return decimal.Decimal(value)
    if t is float:
        if not math.isfinite(value):
            raise EvalError("to_decimal", "the number is not finite")
        # repr gives the shortest text that round-trips, so 0.1 -> Decimal('0.1').
        return decimal.Decimal(repr(value))
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise EvalError("to_decimal", "the number is not finite")
        return value
    raise EvalError("to_decimal", f"a value of kind {kind(value)} cannot become a number")


_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _to_datetime(value: Any, layout: Any = None) -> Any:
    if value is None or value is MISSING:
        return value
    if layout is not None:
        _string("to_datetime", layout, "the layout")
    if isinstance(value, dt.datetime):
        return as_datetime(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if layout in UNIX_NS:
        return _from_unix(value, UNIX_NS[layout])
    if type(value) is not str:
        raise EvalError(
            "to_datetime", f"a value of kind {kind(value)} needs a unix layout such as 'unix'"
        )
    if layout is None:
        parsed = parse_datetime(value)
        if parsed is None:
            raise EvalError("to_datetime", "the string is not an ISO 8601 datetime")
        return parsed
    try:
        return as_datetime(dt.datetime.strptime(value.strip(), layout))
    except ValueError:
        raise EvalError("to_datetime", "the string does not match the layout") from None


def _from_unix(value: Any, unit_ns: int) -> dt.datetime:
    number: Any = value
    if type(value) is str:
        text = value.strip()
        if not _NUMBER_TEXT.fullmatch(text):
            raise EvalError("to_datetime", "the string is not a number")
        number = decimal.Decimal(text)
    elif type(value) is float:
        if not math.isfinite(value):
            raise EvalError("to_datetime", "the number is not finite")
        number = decimal.Decimal(repr(value))
    elif isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise EvalError("to_datetime", "the number is not finite")
    elif type(value) is not int:
        raise EvalError("to_datetime", f"a value of kind {kind(value)} is not a unix time")
    try:
        micros = int(decimal.Decimal(number) * unit_ns / 1000)
        return _EPOCH + dt.timedelta(microseconds=micros)
    except (OverflowError, ValueError, decimal.DecimalException):
        raise EvalError("to_datetime", "the unix time is out of range") from None


def _format_datetime(value: Any, layout: Any = None) -> Any:
    if value is None or value is MISSING:
        return value
    if layout is not None:
        _string("format_datetime", layout, "the layout")
    if type(value) is str:
        parsed = parse_datetime(value)
        if parsed is None:
            raise EvalError("format_datetime", "the string is not an ISO 8601 datetime")
        value = parsed
    elif not isinstance(value, dt.datetime) and isinstance(value, dt.date):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    elif not isinstance(value, dt.datetime):
        raise EvalError("format_datetime", f"the value must be a datetime, not {kind(value)}")
    return format_datetime(value, layout, "format_datetime")


def _default(value: Any, fallback: Any) -> Any:
    if value is None or value is MISSING or value == "":
        return fallback
    return value


def _lookup(table: Any, key: Any) -> Any:
    if table is None or table is MISSING:
        return table
    if not isinstance(table, dict):
        raise EvalError("lookup", f"the first argument must be an object, not {kind(table)}")
    if key is None or key is MISSING:
        return MISSING
    if type(key) is not str:
        if kind(key) not in ("number", "boolean"):
            raise EvalError("lookup", f"the key must be a string or number, not {kind(key)}")
        key = to_string(key, "lookup")
    return table.get(key, MISSING)


def _hash_sha256(s: Any) -> Any:
    if s is None or s is MISSING:
        return s
    return hashlib.sha256(_string("hash_sha256", s).encode("utf-8", "surrogatepass")).hexdigest()


def _email_domain(s: Any) -> Any:
    if s is None or s is MISSING:
        return s
    local, at, domain = _string("email_domain", s).strip().rpartition("@")
    domain = domain.strip().lower()
    if not at or not local or not domain:
        return None
    return domain


def _fn(name: str, min_args: int, max_args: int | None, impl: Callable[..., Any]) -> Function:
    return Function(name, min_args, max_args, impl)


FUNCTIONS: Final[dict[str, Function]] = {
    f.name: f
    for f in (
        _fn("lower", 1, 1, _lower),
        _fn("upper", 1, 1, _upper),
        _fn("trim", 1, 1, _trim),
        _fn("coalesce", 1, None, _coalesce),
        _fn("concat", 1, None, _concat),
        # The compiler writes "if" inline so that only the chosen branch runs;
        # this eager form has the same result for already-evaluated arguments.
        _fn("if", 2, 3, lambda cond, then, otherwise=None: then if cond is True else otherwise),
        _fn("split", 2, 2, _split),
        _fn("join", 2, 2, _join),
        _fn("substring", 2, 3, _substring),
        _fn("replace", 3, 3, _replace),
        _fn("len", 1, 1, _len),
        _fn("now", 0, 0, _now),
        _fn("to_string", 1, 1, lambda v: to_string(v, "to_string")),
        _fn("to_int", 1, 1, _to_int),
        _fn("to_float", 1, 1, _to_float),
        _fn("to_decimal", 1, 1, _to_decimal),
        _fn("to_datetime", 1, 2, _to_datetime),
        _fn("format_datetime", 1, 2, _format_datetime),
        _fn("default", 2, 2, _default),
        _fn("lookup", 2, 2, _lookup),
        _fn("hash_sha256", 1, 1, _hash_sha256),
        _fn("email_domain", 1, 1, _email_domain),
    )
}
"""Every function of the mapping language, by name."""


def _number(op: str, value: Any) -> Any:
    t = type(value)
    if t is int or t is float or isinstance(value, decimal.Decimal):
        return value
    raise EvalError(op, f"'{op}' needs numbers, not {kind(value)}; use concat() to join strings")


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """``a op b`` for op in ``+ - * /``. Null in, null out (missing wins over null).

    int op int stays int except ``/``, which gives a float. A Decimal operand
    turns the other into a Decimal. Division by zero, a non-finite result or a
    non-number operand raise EvalError.
    """
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float) and op != "/":
        result = a + b if op == "+" else a - b if op == "-" else a * b
        if type(result) is float and not math.isfinite(result):
            raise EvalError(op, "the result is not finite")
        return result
    if a is None or a is MISSING or b is None or b is MISSING:
        return _null(a, b)
    x, y = _number(op, a), _number(op, b)
    if isinstance(x, decimal.Decimal) != isinstance(y, decimal.Decimal):
        try:
            x, y = _to_decimal(x), _to_decimal(y)
        except EvalError:
            raise EvalError(op, "an operand is not finite") from None
    try:
        if op == "+":
            result = x + y
        elif op == "-":
            result = x - y
        elif op == "*":
            result = x * y
        else:
            if y == 0:
                raise EvalError("/", "division by zero")
            result = x / y
    except (OverflowError, decimal.DecimalException):
        raise EvalError(op, "the result is out of range") from None
    if type(result) is float and not math.isfinite(result):
        raise EvalError(op, "the result is not finite")
    if isinstance(result, decimal.Decimal) and not result.is_finite():
        raise EvalError(op, "the result is not finite")
    return result


def negate(value: Any) -> Any:
    """``-value`` for a number; null in, null out."""
    if value is None or value is MISSING:
        return value
    return -_number("-", value)
