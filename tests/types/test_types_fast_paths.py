"""The compiled validator's fast paths decide exactly as the general converters do.

Required properties are read by subscript from plain dicts, other mappings are
read with ``get``; ISO 8601 datetimes skip the converter when they parse as UTC.
Each case compares with the converter's own answer or pins the error.
"""

from __future__ import annotations

import collections
import datetime as dt
import types as pytypes
from typing import Any

import pytest

from syncline import types as t
from syncline.types import _convert

SCHEMA = t.Object(
    [
        t.Property("name", t.String(max_length=5)),
        t.Property("when", t.DateTime()),
        t.Property("note", t.String(), nullable=True),
    ]
)
UTC = dt.UTC


def _error(values: Any, schema: t.Object = SCHEMA) -> t.ValidationError:
    with pytest.raises(t.ValidationError) as caught:
        t.compile(schema)(values)
    return caught.value


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-02T03:04:05Z",
        "2025-01-02T03:04:05.123Z",
        "2025-01-02T03:04:05+00:00",
        "2025-01-02T03:04:05.123456+00:00",
        "2025-01-02T03:04:05",  # naive: UTC
        "2025-01-02T05:04:05+02:00",  # another offset: converted
        "2025-01-02",  # a date alone: midnight UTC
        "20250102T030405Z",  # basic format
    ],
)
def test_iso_datetimes_normalize_as_the_converter_does(text: str) -> None:
    expected = _convert.datetime_parser(None)(text)
    result = t.compile(SCHEMA)({"name": "a", "when": text})
    assert result["when"] == expected
    assert result["when"].tzinfo is UTC
    assert type(result["when"]) is dt.datetime


def test_datetime_fast_path_errors_are_unchanged() -> None:
    error = _error({"name": "a", "when": "not a time"})
    assert (error.path, error.rule, error.value_type) == ("when", "format", "str")
    error = _error({"name": "a", "when": ""})
    assert (error.path, error.rule) == ("when", "nullable")
    error = _error({"name": "a", "when": "9999-12-31T23:00:00-05:00"})
    assert (error.path, error.rule) == ("when", "range")


def test_a_missing_required_property_is_reported_without_a_chained_key_error() -> None:
    error = _error({"when": "2025-01-02T03:04:05Z"})
    assert (error.path, error.rule, error.value_type) == ("name", "required", "missing")
    # No "During handling of KeyError" in tracebacks: the lookup is an implementation detail.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_errors_keep_property_order_before_unknown_properties() -> None:
    error = _error({"name": "toolong", "extra": 1})
    assert (error.path, error.rule) == ("name", "max_length")
    error = _error({"name": "a", "when": "2025-01-02", "extra": 1})
    assert (error.path, error.rule) == ("extra", "unknown_property")


@pytest.mark.parametrize(
    "wrap",
    [
        lambda d: collections.defaultdict(lambda: "made up", d),
        lambda d: collections.OrderedDict(d),
        lambda d: pytypes.MappingProxyType(collections.defaultdict(lambda: "made up", d)),
    ],
    ids=["defaultdict", "OrderedDict", "mappingproxy"],
)
def test_other_mappings_never_make_up_absent_properties(wrap: Any) -> None:
    values = wrap({"name": "a", "when": "2025-01-02T03:04:05Z"})
    result = t.compile(SCHEMA)(values)
    assert result == {"name": "a", "when": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)}
    assert type(result) is dict
    missing = wrap({"when": "2025-01-02T03:04:05Z"})
    error = _error(missing)
    assert (error.path, error.rule) == ("name", "required")
    assert "name" not in missing


def test_nested_mappings_use_the_same_rules() -> None:
    schema = t.Object([t.Property("inner", SCHEMA)])
    counter: Any = collections.Counter({"when": "2025-01-02"})
    error = _error({"inner": counter}, schema)
    assert (error.path, error.rule) == ("inner.name", "required")
    good = {"inner": pytypes.MappingProxyType({"name": "a", "when": "2025-01-02"})}
    assert t.compile(schema)(good) == {
        "inner": {"name": "a", "when": dt.datetime(2025, 1, 2, tzinfo=UTC)}
    }


def test_results_are_new_dicts_in_schema_order_whatever_the_input_order() -> None:
    every = t.Object([t.Property("b", t.Int()), t.Property("a", t.String(), nullable=True)])
    validate = t.compile(every, operation="create")
    # create: nothing is required here, so absent properties are left out.
    assert validate({}) == {}
    strict = t.Object(
        [
            t.Property("b", t.Int(), create_required=True),
            t.Property("a", t.String(), nullable=True, create_required=True),
        ]
    )
    validate = t.compile(strict, operation="create")
    first = validate({"a": None, "b": 1})
    second = validate({"a": "x", "b": 2})
    assert list(first.items()) == [("b", 1), ("a", None)]
    assert list(second.items()) == [("b", 2), ("a", "x")]
    assert first is not second
    with pytest.raises(t.ValidationError) as caught:
        validate({"a": "x"})
    assert (caught.value.path, caught.value.rule) == ("b", "required")
