"""HubSpot property definitions (``GET /crm/v3/properties/{object}``) as Syncline types.

| HubSpot ``type`` (``fieldType``)            | Syncline type                      |
| ------------------------------------------- | ---------------------------------- |
| ``string`` (any field type)                 | ``String()``                       |
| ``number``                                  | ``Float(real=True)``               |
| ``date``                                    | ``Date()``                         |
| ``datetime``                                | ``DateTime()``                     |
| ``bool``, or ``enumeration`` + ``booleancheckbox`` | ``Boolean()``               |
| ``enumeration`` + ``checkbox`` (multiple)   | ``Array(String(values=options))``  |
| ``enumeration`` (select, radio, …)          | ``String(values=options)``         |
| anything else (``phone_number``, ``json``…) | ``String()``                       |

Every property is nullable (HubSpot returns ``null`` for unset values).
Hidden properties are left out. A property whose value HubSpot computes
(``calculated``, or ``modificationMetadata.readOnlyValue``) is left out of
the destination schema.
"""

from __future__ import annotations

from typing import Any

from syncline.types import (
    Array,
    Boolean,
    Date,
    DateTime,
    Float,
    Object,
    Property,
    Role,
    String,
    Type,
    is_valid_property_name,
)

__all__ = ["object_schema", "property_type"]


def _options(definition: dict[str, Any]) -> list[str]:
    values: list[str] = []
    for option in definition.get("options") or ():
        value = option.get("value")
        if isinstance(value, str) and value and value not in values:
            values.append(value)
    return values


def property_type(definition: dict[str, Any]) -> Type:
    """The Syncline type of one HubSpot property definition (see the module's table)."""
    kind = definition.get("type")
    field_type = definition.get("fieldType")
    if kind == "number":
        return Float(real=True)
    if kind == "date":
        return Date()
    if kind == "datetime":
        return DateTime()
    if kind == "bool" or (kind == "enumeration" and field_type == "booleancheckbox"):
        return Boolean()
    if kind == "enumeration":
        values = _options(definition)
        element = String(values=values) if values else String()
        return Array(element) if field_type == "checkbox" else element
    return String()


def read_only(definition: dict[str, Any]) -> bool:
    """True when HubSpot computes the property's value, so it cannot be written."""
    metadata = definition.get("modificationMetadata") or {}
    return bool(definition.get("calculated") or metadata.get("readOnlyValue"))


def object_schema(definitions: list[dict[str, Any]], role: Role) -> Object:
    """The schema of an object type for ``role``, from its property definitions.

    Properties are sorted by name, so the schema is stable across calls. Names Syncline cannot carry (not ``[A-Za-z_][A-Za-z0-9_]*``) are
    left out rather than renamed, so every name stays HubSpot's own.
    """
    properties: list[Property] = []
    for definition in sorted(definitions, key=lambda d: str(d.get("name", ""))):
        name = definition.get("name")
        if not isinstance(name, str) or not is_valid_property_name(name):
            continue
        if definition.get("hidden"):
            continue
        if role is Role.DESTINATION and read_only(definition):
            continue
        properties.append(
            Property(
                name,
                property_type(definition),
                nullable=True,
                description=str(definition.get("label") or ""),
            )
        )
    return Object(properties)
