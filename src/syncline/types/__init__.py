"""Syncline's schema type system: kinds, properties, JSON form and compiled validation.

Build a schema from the type constructors, serialize it with :func:`dumps` /
:func:`loads`, and turn it into a fast validator/normalizer with
:func:`compile`::

    from syncline import types as t

    schema = t.Object([t.Property("email", t.String(max_length=254))])
    validate = t.compile(schema)
    validate({"email": "a@example.com"})

See ``docs/types.md`` for accepted inputs and canonical outputs per kind.
"""

from syncline.types._compile import Operation, Validator, compile
from syncline.types._errors import ValidationError
from syncline.types._kinds import Kind, Role
from syncline.types._layouts import UNIX_LAYOUTS, TimeLayouts
from syncline.types._model import (
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
    Property,
    String,
    Time,
    Type,
    Year,
    is_valid_property_name,
)
from syncline.types._roles import as_role
from syncline.types._serial import dumps, from_json, loads, to_json

__all__ = [
    "IP",
    "JSON",
    "UNIX_LAYOUTS",
    "UUID",
    "Array",
    "Boolean",
    "Date",
    "DateTime",
    "Decimal",
    "Float",
    "Int",
    "Kind",
    "Map",
    "Object",
    "Operation",
    "Property",
    "Role",
    "String",
    "Time",
    "TimeLayouts",
    "Type",
    "ValidationError",
    "Validator",
    "Year",
    "as_role",
    "compile",
    "dumps",
    "from_json",
    "is_valid_property_name",
    "loads",
    "to_json",
]
