"""The JSON Schema of the benchmark records (the same 25 properties bench/import.py declares).

Shared by the Airbyte (catalog, ``get_json_schema``), declarative (inline schema)
and Singer (``schema``) connectors, so every peer types the same fields.
"""

from __future__ import annotations

from typing import Any

STRINGS = ["email", "first_name", "last_name", "company", "title", "city", "country",
           "phone", "plan", "source", "utm_campaign", "language"]  # fmt: skip
INTS = ["score", "visits", "age", "employees", "orders"]
FLOATS = ["revenue", "ltv", "churn_risk"]
BOOLS = ["active", "verified", "newsletter"]
TIMES = ["created_at", "last_seen"]


def properties_schema() -> dict[str, Any]:
    props: dict[str, Any] = {}
    props.update({n: {"type": ["null", "string"], "maxLength": 200} for n in STRINGS})
    props.update({n: {"type": ["null", "integer"]} for n in INTS})
    props.update({n: {"type": ["null", "number"]} for n in FLOATS})
    props.update({n: {"type": ["null", "boolean"]} for n in BOOLS})
    props.update({n: {"type": ["null", "string"], "format": "date-time"} for n in TIMES})
    return {"type": "object", "properties": props}


def record_schema() -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "updated_at": {"type": "string", "format": "date-time"},
            "properties": properties_schema(),
        },
    }
