"""Helpers the compiled code calls per record. Each one is total: it never raises
except :class:`EvalError` where documented."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

from ._values import MISSING, EvalError, equal

__all__ = [
    "contains",
    "ends_with",
    "index",
    "is_empty",
    "literal_membership",
    "object_of",
    "safe",
    "starts_with",
    "walk_path",
]


def safe(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, or null when it raises EvalError (filters never fail)."""
    try:
        return function(*args)
    except EvalError:
        return None


def is_empty(value: Any) -> bool:
    """Missing, null, or an empty string, list or object."""
    if value is None or value is MISSING:
        return True
    if isinstance(value, str | list | tuple | dict):
        return len(value) == 0
    return False


def contains(a: Any, b: Any) -> bool:
    """A string *a* containing the string *b*, or a list *a* with an element equal to *b*."""
    if type(a) is str:
        return type(b) is str and b in a
    if isinstance(a, list | tuple):
        return any(equal(item, b) for item in a)
    return False


def starts_with(a: Any, b: Any) -> bool:
    return type(a) is str and type(b) is str and a.startswith(b)


def ends_with(a: Any, b: Any) -> bool:
    return type(a) is str and type(b) is str and a.endswith(b)


def index(value: Any, position: int) -> Any:
    """Element *position* of a list (negative from the end), else MISSING."""
    if isinstance(value, list | tuple) and -len(value) <= position < len(value):
        return value[position]
    return MISSING


def walk_path(value: Any, steps: tuple[str | int, ...]) -> Any:
    """The value at *steps* below *value*: names step into objects, ints into
    lists; any other step gives MISSING."""
    for step in steps:
        if isinstance(step, str):
            if not isinstance(value, dict):
                return MISSING
            value = value.get(step, MISSING)
        else:
            value = index(value, step)
            if value is MISSING:
                return MISSING
    return value


def object_of(keys: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    """An object literal; keys whose value is missing are left out."""
    return {key: value for key, value in zip(keys, values, strict=True) if value is not MISSING}


def literal_membership(values: list[Any]) -> Callable[[Any], bool]:
    """A test for ``value in (values...)`` over literals, with ``=`` semantics.

    Sets keyed by kind make the common cases one hash lookup; True never matches
    1 (Python's True == 1) because booleans have their own set.
    """
    strings = frozenset(v for v in values if type(v) is str)
    # NaN equals nothing, not even itself, so it never enters the set.
    numbers = frozenset(
        v
        for v in values
        if (type(v) in (int, float) and v == v)
        or (isinstance(v, decimal.Decimal) and v.is_finite())
    )
    booleans = frozenset(v for v in values if type(v) is bool)
    has_null = any(v is None for v in values)
    # A string literal may still equal a datetime, date or time of a record.
    string_values = [v for v in values if type(v) is str]

    def member(value: Any) -> bool:
        t = type(value)
        if t is str:
            return value in strings
        if t is int or t is float:
            return value in numbers
        if t is bool:
            return value in booleans
        if value is None or value is MISSING:
            return has_null
        if isinstance(value, decimal.Decimal):
            return any(equal(value, number) for number in numbers)
        return any(equal(value, s) for s in string_values)

    return member
