"""SQLite declared types ↔ Syncline types.

SQLite stores values dynamically; a column's declared type only gives it an
affinity. Reading, a declared type maps to a Syncline type by the names people
use (``BOOLEAN``, ``DATETIME``, ``DECIMAL(10,2)``, ``JSON`` …) and then by
SQLite's own affinity rules. Writing, values are stored in the forms SQLite's
date and JSON functions understand. docs/connectors/sqlite.md has both tables.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable
from typing import Any

import orjson

from syncline.connectors._sql.dialect import Writer
from syncline.types import (
    IP,
    JSON,
    UUID,
    Array,
    Boolean,
    Date,
    DateTime,
    Decimal,
    Float,
    Int,
    Map,
    Object,
    String,
    Time,
    Type,
    Year,
)

__all__ = ["column_type", "iso_utc", "parse_datetime", "read_type", "value_writer"]

Converter = Callable[[Any], Any]

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_PARAMS = re.compile(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


def parse_datetime(value: Any) -> Any:
    """An aware UTC datetime from ISO text (naive = UTC) or unix seconds; else ``value``."""
    try:
        if isinstance(value, str):
            parsed = dt.datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _EPOCH + dt.timedelta(seconds=value)
    except (ValueError, OverflowError):
        pass
    return value


def iso_utc(value: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``: fixed width, so text order is time order."""
    if value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    # Canonical values are already UTC: one isoformat call, "+00:00" becomes "Z".
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


_ISO_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
_DATETIME_ONLY = frozenset({dt.datetime})
# Lengths of orjson's UTC text: with microseconds ("…:SS.ffffffZ") and without.
_FULL_WIDTH = frozenset({27})
_NO_FRACTION = frozenset({20})


def iso_utc_many(values: list[Any]) -> list[Any]:
    """:func:`iso_utc` of every datetime in ``values`` (None stays None), in one orjson call.

    ``datetime.isoformat`` costs microseconds per value; orjson formats a
    whole column in one C call. Its text is widened to the fixed-width form
    (orjson leaves out a zero fraction) and any value not in UTC goes through
    :func:`iso_utc`. Raises TypeError when a value is not a datetime.
    """
    present = [v for v in values if v is not None]
    if not present:
        return list(values)
    if set(map(type, present)) != _DATETIME_ONLY:
        raise TypeError("not a datetime")
    inner = orjson.dumps(present, option=_ISO_OPTIONS).decode()[2:-2]
    texts = inner.split('","')
    widths = set(map(len, texts))
    if widths == _FULL_WIDTH:
        fixed = texts
    elif widths == _NO_FRACTION:
        # Every value is whole seconds in UTC ("…:SSZ", the only "Z" of each):
        # widened in one pass over the column's text.
        fixed = inner.replace("Z", ".000000Z").split('","')
    else:
        fixed = [
            t if len(t) == 27 else t[:-1] + ".000000Z" if len(t) == 20 else iso_utc(v)
            for t, v in zip(texts, present, strict=True)
        ]
    if len(present) == len(values):
        return fixed
    it = iter(fixed)
    return [None if v is None else next(it) for v in values]


def _boolean(value: Any) -> Any:
    return bool(value) if type(value) is int else value


def _decimal(value: Any) -> Any:
    # A NUMERIC-affinity column may have turned "1.10" into the REAL 1.1;
    # repr() is the shortest text that reads back as the same float.
    return decimal.Decimal(repr(value)) if type(value) is float else value


def _json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def read_type(declared: str) -> tuple[Type | None, Converter | None, bool]:
    """(Syncline type or None if unsupported, read converter, integer values?)."""
    upper = declared.strip().upper()
    base = upper.split("(", 1)[0].strip()
    if not base:
        return JSON(), None, False
    if "BOOL" in base:
        return Boolean(), _boolean, False
    if "DATETIME" in base or "TIMESTAMP" in base:
        return DateTime(), parse_datetime, False
    if base == "DATE":
        return Date(), None, False
    if base == "TIME":
        return Time(), None, False
    if base == "YEAR":
        return Year(), None, False
    if base in ("UUID", "GUID"):
        return UUID(), None, False
    if base in ("INET", "IP", "IPADDRESS"):
        return IP(), None, False
    if "JSON" in base:
        return JSON(), _json, False
    if "DECIMAL" in base or "NUMERIC" in base:
        match = _PARAMS.search(upper)
        if match is not None:
            precision, scale = int(match.group(1)), int(match.group(2) or 0)
            if 1 <= precision <= 76 and 0 <= scale <= min(precision, 37):
                return Decimal(precision, scale), _decimal, False
        return Float(), None, False
    # SQLite's affinity rules, in SQLite's order.
    if "INT" in base:
        return Int(), None, True
    if "CHAR" in base or "CLOB" in base or "TEXT" in base:
        return String(), None, False
    if "BLOB" in base:
        return None, None, False
    if "REAL" in base or "FLOA" in base or "DOUB" in base:
        return Float(), None, False
    return JSON(), None, False


def column_type(t: Type) -> str:
    """The declared type of a created column for values of ``t``."""
    if isinstance(t, String):
        return "TEXT"
    if isinstance(t, Boolean):
        return "BOOLEAN"
    if isinstance(t, Int):
        return "INTEGER"
    if isinstance(t, Float):
        return "REAL"
    if isinstance(t, Decimal):
        # TEXT affinity keeps every digit; the DECIMAL prefix maps it back.
        return f"DECIMAL_TEXT({t.precision},{t.scale})"
    if isinstance(t, DateTime):
        return "DATETIME"
    if isinstance(t, Date):
        return "DATE"
    if isinstance(t, Time):
        return "TIME"
    if isinstance(t, Year):
        return "YEAR"
    if isinstance(t, UUID):
        return "UUID"
    if isinstance(t, IP):
        return "INET"
    return "JSON"


def _epoch(value: dt.datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH).total_seconds()


def _isoformat(value: Any) -> str:
    return str(value.isoformat())


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def value_writer(t: Type, numeric_column: bool) -> Writer | None:
    """How a canonical value of ``t`` is bound; ``numeric_column`` for INT/REAL columns."""
    if isinstance(t, DateTime):
        return Writer(_epoch) if numeric_column else Writer(iso_utc, iso_utc_many)
    if isinstance(t, Date | Time):
        return Writer(_isoformat)
    if isinstance(t, Decimal):
        return Writer(str)
    if isinstance(t, JSON | Array | Object | Map):
        return Writer(_json_text)
    return None
