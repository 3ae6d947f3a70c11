"""PostgreSQL types ↔ Syncline types.

Reading, a column's type (``pg_type.typname`` and ``format_type`` for its
modifiers) maps to a Syncline type; types without a mapping are read as text
(``::text``) into a string property, and written back as text cast to the
column's type. Writing, each column gets a converter from the canonical value
(or a string, when a pipeline maps a string into, say, a date column) to what
asyncpg's binary codec for the column expects. docs/connectors/postgres.md has
both tables.
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

__all__ = ["UNCONSTRAINED_NUMERIC", "column_type", "read_type", "value_writer"]

Converter = Callable[[Any], Any]
UTC = dt.UTC

UNCONSTRAINED_NUMERIC = Decimal(76, 20)
"""The type of a ``numeric`` column declared without precision and scale."""

_LENGTH = re.compile(r"\((\d+)\)")
_NUMERIC = re.compile(r"numeric\((\d+),(\d+)\)")
_TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "citext", "name"})


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _json(value: Any) -> Any:
    try:
        return orjson.loads(value)
    except (orjson.JSONDecodeError, TypeError):
        return value


def _ip(value: Any) -> str:
    # inet may carry a netmask (an interface); the address is what the kind holds.
    return str(getattr(value, "ip", value))


def _scalar(typname: str, declared: str) -> tuple[Type, Converter | None, bool] | None:
    if typname == "bool":
        return Boolean(), None, False
    if typname in ("int2", "int4", "int8"):
        return Int({"int2": 16, "int4": 32, "int8": 64}[typname]), None, True
    if typname in ("float4", "float8"):
        return Float(32 if typname == "float4" else 64), None, False
    if typname == "numeric":
        match = _NUMERIC.search(declared)
        if match is None:
            return UNCONSTRAINED_NUMERIC, None, False
        precision, scale = int(match.group(1)), int(match.group(2))
        if precision <= 76 and scale <= 37:
            return Decimal(precision, scale), None, False
        return None
    if typname in _TEXT_TYPES:
        length = _LENGTH.search(declared) if typname in ("varchar", "bpchar") else None
        return String(max_length=int(length.group(1)) if length else None), None, False
    if typname == "timestamptz":
        return DateTime(), None, False
    if typname == "timestamp":
        return DateTime(), _aware, False
    if typname == "date":
        return Date(), None, False
    if typname in ("time", "timetz"):
        return Time(), None, False
    if typname == "uuid":
        return UUID(), str, False
    if typname in ("json", "jsonb"):
        return JSON(), _json, False
    if typname == "inet":
        return IP(), _ip, False
    return None


def read_type(
    typname: str, declared: str, element: str | None, typtype: str
) -> tuple[Type, Converter | None, bool, bool]:
    """(type, read converter, integer values?, read as text?) of a column.

    ``element`` is the element's typname for an array type. Enums are strings
    (asyncpg decodes them as text); every type without a mapping is read as text.
    """
    if element is not None:
        inner = _scalar(element, declared.removesuffix("[]"))
        if inner is not None and inner[0].kind.value not in ("json",):
            (
                item_type,
                item_read,
                _,
            ) = inner
            read = None if item_read is None else _each(item_read)
            return Array(item_type), read, False, False
        return String(), None, False, True
    if typtype == "e":
        return String(), None, False, False
    found = _scalar(typname, declared)
    if found is None:
        return String(), None, False, True
    kind, read, integer = found
    return kind, read, integer, False


def _each(read: Converter) -> Converter:
    def convert(values: Any) -> Any:
        if not isinstance(values, list):
            return values
        return [None if v is None else read(v) for v in values]

    return convert


def column_type(t: Type) -> str:
    """The SQL type of a created column for values of ``t``."""
    if isinstance(t, String):
        return "text"
    if isinstance(t, Boolean):
        return "boolean"
    if isinstance(t, Int):
        lo, hi = t.bit_range()
        if lo >= -(2**15) and hi < 2**15:
            return "smallint"
        if lo >= -(2**31) and hi < 2**31:
            return "integer"
        if hi < 2**63:
            return "bigint"
        return "numeric(20,0)"
    if isinstance(t, Float):
        return "real" if t.bits == 32 else "double precision"
    if isinstance(t, Decimal):
        return f"numeric({t.precision},{t.scale})"
    if isinstance(t, DateTime):
        return "timestamptz"
    if isinstance(t, Date):
        return "date"
    if isinstance(t, Time):
        return "time"
    if isinstance(t, Year):
        return "smallint"
    if isinstance(t, UUID):
        return "uuid"
    if isinstance(t, IP):
        return "inet"
    return "jsonb"


def created_typname(t: Type) -> str:
    """The typname of :func:`column_type` (what :func:`value_writer` keys on)."""
    return {
        "text": "text",
        "boolean": "bool",
        "smallint": "int2",
        "integer": "int4",
        "bigint": "int8",
        "real": "float4",
        "double precision": "float8",
        "timestamptz": "timestamptz",
        "date": "date",
        "time": "time",
        "uuid": "uuid",
        "inet": "inet",
        "jsonb": "jsonb",
    }.get(column_type(t), "numeric")


# Converters from a canonical value (or a string) to what asyncpg's codec takes.


def _to_text(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, dt.datetime):
        return str(_aware(value).astimezone(UTC).isoformat())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _to_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _to_aware(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise TypeError("not a datetime")
    return _aware(value)


def _to_naive(value: Any) -> dt.datetime:
    return _to_aware(value).astimezone(UTC).replace(tzinfo=None)


def _to_date(value: Any) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise TypeError("not a date")


def _to_time(value: Any) -> dt.time:
    if isinstance(value, str):
        return dt.time.fromisoformat(value)
    if isinstance(value, dt.time):
        return value
    raise TypeError("not a time")


def _to_int(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("not an integer")
    return int(value)


def _to_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    try:
        return decimal.Decimal(value)
    except decimal.InvalidOperation:
        raise ValueError("not a number") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError("not a boolean")


# typname → (the kinds whose canonical values asyncpg takes as they are, converter)
_WRITERS: dict[str, tuple[tuple[type[Type], ...], Converter]] = {
    "bool": ((Boolean,), _to_bool),
    "int2": ((Int, Year), _to_int),
    "int4": ((Int, Year), _to_int),
    "int8": ((Int, Year), _to_int),
    "float4": ((Float,), float),
    "float8": ((Float,), float),
    "numeric": ((Decimal,), _to_decimal),
    "json": ((), _to_json),
    "jsonb": ((), _to_json),
    "timestamptz": ((DateTime,), _to_aware),
    "timestamp": ((), _to_naive),
    "date": ((Date,), _to_date),
    "time": ((Time,), _to_time),
    "uuid": ((UUID, String), _to_text),
    "inet": ((IP, String), _to_text),
}


def value_writer(typname: str, t: Type, as_text: bool) -> Writer | None:
    """The converter for values of ``t`` into a column of ``typname`` (None: as they are).

    ``as_text`` columns (text types, and types read and written as text) take strings.
    """
    if as_text or typname in _TEXT_TYPES:
        if isinstance(t, String | UUID | IP):
            return None
        if isinstance(t, JSON | Array | Object | Map):
            return Writer(_to_json)
        return Writer(_to_text)
    found = _WRITERS.get(typname)
    if found is None:
        # Arrays and enums: asyncpg takes lists and strings as they are.
        return None
    natural, convert = found
    return None if isinstance(t, natural) else Writer(convert)
