"""Schema inference from sample records.

Every sampled value gets a *kind*, the kinds seen for a field are merged, and
the merge decides the property's type:

=====================================  ==========================================
values seen (nulls and absences aside)  type
=====================================  ==========================================
only ints                              int (64 bits)
ints and floats, or only floats        float (64 bits)
only booleans                          boolean
only ISO 8601 datetimes                datetime
only ISO 8601 dates (``YYYY-MM-DD``)   date
dates and datetimes                    datetime
only strings (or strings mixed with    string
dates/datetimes)
only objects with valid property       object (properties inferred the same way)
names
only arrays                            array of the merged element kinds; json
                                       when elements are null or of mixed kinds
anything else, or only nulls           json
=====================================  ==========================================

A field that is null at least once is ``nullable``; a field missing from some
records is ``read_optional``. CSV cells are text: an empty cell is null,
``true``/``false`` (any case) are booleans, integers without leading zeros
(``007`` stays a string, like a zip code) that fit 64 bits are ints, other
decimal numbers are floats, and a cell starting with ``{`` or ``[`` that parses
as JSON is an object or array.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from syncline.types import (
    JSON,
    Array,
    Boolean,
    Date,
    DateTime,
    Float,
    Int,
    Object,
    Property,
    String,
    Type,
    is_valid_property_name,
)

__all__ = ["csv_value", "infer", "property_names"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_INT = re.compile(r"[+-]?(?:0|[1-9]\d*)")
_FLOAT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+(?:\.\d*)?[eE][+-]?\d+)")
_INVALID = re.compile(r"[^A-Za-z0-9_]")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def property_names(fields: Iterable[str]) -> dict[str, str]:
    """Field name → property name for the fields that can be properties.

    A valid name is kept; otherwise characters outside ``[A-Za-z0-9_]``
    become ``_`` and a leading digit gets a ``_`` prefix (``"First Name"`` →
    ``First_Name``). Fields left without a usable or unique name are left out.
    """
    names: dict[str, str] = {}
    taken: set[str] = set()
    for name in fields:
        prop = name if is_valid_property_name(name) else _INVALID.sub("_", name)
        if prop and prop[0].isdigit():
            prop = "_" + prop
        if not is_valid_property_name(prop) or not prop.strip("_") or prop in taken:
            continue
        taken.add(prop)
        names[name] = prop
    return names


def _string_kind(value: str) -> str:
    if _DATETIME.match(value):
        try:
            dt.datetime.fromisoformat(value)
            return "datetime"
        except ValueError:
            return "string"
    if _DATE.fullmatch(value):
        try:
            dt.date.fromisoformat(value)
            return "date"
        except ValueError:
            return "string"
    return "string"


def csv_value(cell: str) -> Any:
    """The value a CSV cell stands for when nothing declares its type (see the module)."""
    if cell == "":
        return None
    lower = cell.lower()
    if lower in ("true", "false"):
        return lower == "true"
    if _INT.fullmatch(cell):
        number = int(cell)
        return number if _INT_MIN <= number <= _INT_MAX else cell
    if _FLOAT.fullmatch(cell):
        return float(cell)
    if cell[0] in "{[":
        try:
            return orjson.loads(cell)
        except orjson.JSONDecodeError:
            return cell
    return cell


@dataclass
class _Field:
    kinds: set[str] = field(default_factory=set)
    nullable: bool = False
    present: int = 0
    members: _Fields | None = None
    element: _Field | None = None

    def add(self, value: Any) -> None:
        self.present += 1
        if value is None:
            self.nullable = True
        elif value is True or value is False:
            self.kinds.add("boolean")
        elif isinstance(value, int):
            self.kinds.add("int" if _INT_MIN <= value <= _INT_MAX else "json")
        elif isinstance(value, float):
            self.kinds.add("float")
        elif isinstance(value, str):
            self.kinds.add(_string_kind(value))
        elif isinstance(value, Mapping):
            if all(is_valid_property_name(k) for k in value):
                self.kinds.add("object")
                if self.members is None:
                    self.members = _Fields()
                self.members.add(value)
            else:
                self.kinds.add("json")
        elif isinstance(value, list):
            self.kinds.add("array")
            if self.element is None:
                self.element = _Field()
            for item in value:
                self.element.add(item)
        else:
            self.kinds.add("json")

    def type(self) -> Type:
        kinds = self.kinds
        if kinds == {"int"}:
            return Int()
        if kinds and kinds <= {"int", "float"}:
            return Float()
        if kinds == {"boolean"}:
            return Boolean()
        if kinds == {"datetime"} or kinds == {"date", "datetime"}:
            return DateTime()
        if kinds == {"date"}:
            return Date()
        if kinds and kinds <= {"string", "date", "datetime"}:
            return String()
        if kinds == {"object"} and self.members is not None:
            return self.members.schema()
        if kinds == {"array"} and self.element is not None:
            element = self.element
            if element.kinds and not element.nullable and "json" not in element.kinds:
                inner = element.type()
                if not isinstance(inner, JSON):
                    return Array(inner)
        return JSON()


class _Fields:
    def __init__(self) -> None:
        self.fields: dict[str, _Field] = {}
        self.rows = 0

    def add(self, row: Mapping[str, Any]) -> None:
        self.rows += 1
        fields = self.fields
        for name, value in row.items():
            found = fields.get(name)
            if found is None:
                found = fields[name] = _Field()
            found.add(value)

    def schema(self, names: Mapping[str, str] | None = None) -> Object:
        props = []
        for name, f in self.fields.items():
            prop = name if names is None else names.get(name)
            if prop is None:
                continue
            props.append(
                Property(
                    prop,
                    f.type(),
                    nullable=f.nullable or not f.kinds,
                    read_optional=f.present < self.rows,
                )
            )
        return Object(props)


def infer(rows: Iterable[Mapping[str, Any]]) -> Object:
    """The schema of ``rows`` (field → value mappings), by the rules of the module."""
    fields = _Fields()
    for row in rows:
        fields.add(row)
    return fields.schema(property_names(fields.fields))
