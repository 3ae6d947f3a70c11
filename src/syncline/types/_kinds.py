"""The kinds of values a schema can describe, and the two roles a schema plays."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Kind", "Role"]


class Kind(StrEnum):
    """The kind of a :class:`~syncline.types.Type`; its value is the JSON ``"kind"``."""

    STRING = "string"
    BOOLEAN = "boolean"
    INT = "int"
    FLOAT = "float"
    DECIMAL = "decimal"
    DATETIME = "datetime"
    DATE = "date"
    TIME = "time"
    YEAR = "year"
    UUID = "uuid"
    JSON = "json"
    IP = "ip"
    ARRAY = "array"
    OBJECT = "object"
    MAP = "map"


class Role(StrEnum):
    """The side a schema describes: records read from an app, or written to it."""

    SOURCE = "source"
    DESTINATION = "destination"
