"""The JSON form of types round-trips exactly and rejects malformed input clearly."""

from __future__ import annotations

import decimal
import json
from typing import Any

import pytest
from hypothesis import given, settings
from syncline_types_strategies import objects, types

from syncline import types as t


@settings(max_examples=150, deadline=None)
@given(types)
def test_every_type_round_trips_through_json(value: t.Type) -> None:
    assert t.from_json(t.to_json(value)) == value
    assert t.loads(t.dumps(value)) == value
    # The dict form is plain JSON, not Python-only values.
    assert json.loads(json.dumps(t.to_json(value))) == t.to_json(value)


@settings(max_examples=50, deadline=None)
@given(objects)
def test_objects_round_trip_and_keep_hash(value: t.Object) -> None:
    again = t.loads(t.dumps(value))
    assert again == value
    assert hash(again) == hash(value)


def test_json_form_of_each_kind() -> None:
    schema = t.Object(
        [
            t.Property(
                "name",
                t.String(max_length=10, max_bytes=40, values=["a", "b"]),
                nullable=True,
                description="Name",
            ),
            t.Property("n", t.Int(bits=16, unsigned=True, min=1, max=9), create_required=True),
            t.Property("f", t.Float(bits=32, real=True, min=-1, max=1.5), update_required=True),
            t.Property("d", t.Decimal(10, 2, min=decimal.Decimal("-1.5"), max=100)),
            t.Property(
                "tags",
                t.Array(t.String(pattern="[a-z]+"), min_elements=1, max_elements=3, unique=True),
                read_optional=True,
                prefilled="lower(tag)",
            ),
            t.Property("attrs", t.Map(t.JSON())),
        ]
    )
    assert t.to_json(schema) == {
        "kind": "object",
        "properties": [
            {
                "name": "name",
                "type": {"kind": "string", "maxLength": 10, "maxBytes": 40, "values": ["a", "b"]},
                "nullable": True,
                "description": "Name",
            },
            {
                "name": "n",
                "type": {"kind": "int", "bits": 16, "unsigned": True, "min": 1, "max": 9},
                "createRequired": True,
            },
            {
                "name": "f",
                "type": {"kind": "float", "bits": 32, "real": True, "min": -1.0, "max": 1.5},
                "updateRequired": True,
            },
            {
                "name": "d",
                "type": {
                    "kind": "decimal",
                    "precision": 10,
                    "scale": 2,
                    "min": "-1.50",
                    "max": "100.00",
                },
            },
            {
                "name": "tags",
                "type": {
                    "kind": "array",
                    "elementType": {"kind": "string", "pattern": "[a-z]+"},
                    "minElements": 1,
                    "maxElements": 3,
                    "unique": True,
                },
                "readOptional": True,
                "prefilled": "lower(tag)",
            },
            {
                "name": "attrs",
                "type": {"kind": "map", "elementType": {"kind": "json"}},
            },
        ],
    }
    for kind in ("boolean", "datetime", "date", "time", "year", "uuid", "json", "ip"):
        assert t.to_json(t.from_json({"kind": kind})) == {"kind": kind}
        assert t.from_json({"kind": kind}).kind == t.Kind(kind)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "text"}, "$.kind: unknown kind 'text'"),
        ({}, "$: a type needs a kind"),
        ({"kind": "string", "maxLen": 3}, "$: unknown member(s) 'maxLen'"),
        ({"kind": "string", "maxLength": "3"}, "$.maxLength: expected an integer, got str"),
        ({"kind": "int", "bits": 12}, "$: Int: bits must be one of"),
        ({"kind": "decimal", "precision": 5}, "$: a decimal needs precision and scale"),
        (
            {"kind": "decimal", "precision": 5, "scale": 1, "min": "x"},
            "$: Decimal: min is not a number",
        ),
        ({"kind": "array"}, "$: an array needs elementType"),
        (
            {"kind": "array", "elementType": {"kind": "nope"}},
            "$.elementType.kind: unknown kind 'nope'",
        ),
        ({"kind": "object"}, "$: an object needs properties"),
        (
            {"kind": "object", "properties": [{"name": "a", "type": {"kind": "int", "bits": 3}}]},
            "$.properties[0].type: Int: bits must be one of",
        ),
        (
            {"kind": "object", "properties": [{"name": "1a", "type": {"kind": "int"}}]},
            "$.properties[0]: Property: invalid name '1a'",
        ),
        (
            {
                "kind": "object",
                "properties": [{"name": "a", "type": {"kind": "int"}, "null": True}],
            },
            "$.properties[0]: unknown member(s) 'null'",
        ),
        (
            {
                "kind": "object",
                "properties": [
                    {"name": "a", "type": {"kind": "int"}},
                    {"name": "a", "type": {"kind": "date"}},
                ],
            },
            "$: Object: duplicate property names: 'a'",
        ),
        ([1], "$: expected a JSON object, got list"),
    ],
)
def test_from_json_names_the_problem_and_where(data: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        t.from_json(data)
    assert str(info.value).startswith(message), str(info.value)


def test_loads_rejects_text_that_is_not_json() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        t.loads("{kind: string}")
