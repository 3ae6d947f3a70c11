"""Every accepted input form normalizes to its canonical value; every rejection names its rule."""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import ipaddress
import math
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncline import types as t

D = decimal.Decimal
UTC = dt.UTC
PLUS2 = dt.timezone(dt.timedelta(hours=2))
UUID_TEXT = "0f8fad5b-d9cb-469f-a165-70867728950e"
MILLI = t.TimeLayouts(datetime="unixmilli")
FORMAT = t.TimeLayouts(datetime="%d/%m/%Y %H:%M", date="%d/%m/%Y", time="%I%p")


def normalize(kind: t.Type, value: Any, layouts: t.TimeLayouts | None = None, **flags: Any) -> Any:
    schema = t.Object([t.Property("v", kind, **flags)])
    return t.compile(schema, layouts=layouts)({"v": value})["v"]


ACCEPTED: list[tuple[t.Type, Any, Any, t.TimeLayouts | None]] = [
    # strings
    (t.String(), "héllo", "héllo", None),
    (t.String(), "", "", None),
    (t.String(max_length=2), "éé", "éé", None),
    (t.String(max_bytes=4), "éé", "éé", None),
    (t.String(values=["a", "b"]), "b", "b", None),
    (t.String(pattern=r"[a-z]+"), "abc", "abc", None),
    (t.String(), collections.UserString("x").data, "x", None),
    # booleans
    (t.Boolean(), True, True, None),
    (t.Boolean(), False, False, None),
    (t.Boolean(), "true", True, None),
    (t.Boolean(), "false", False, None),
    # ints
    (t.Int(), 5, 5, None),
    (t.Int(), "42", 42, None),
    (t.Int(), "-7", -7, None),
    (t.Int(), " 8 ", 8, None),
    (t.Int(), "1e3", 1000, None),
    (t.Int(), "12.000", 12, None),
    (t.Int(), 3.0, 3, None),
    (t.Int(), D("4"), 4, None),
    (t.Int(bits=8, unsigned=True), 255, 255, None),
    (t.Int(bits=64, unsigned=True), 2**64 - 1, 2**64 - 1, None),
    (t.Int(bits=24), -(2**23), -(2**23), None),
    # floats
    (t.Float(), 1.5, 1.5, None),
    (t.Float(), 2, 2.0, None),
    (t.Float(), "2.5", 2.5, None),
    (t.Float(), "-1e3", -1000.0, None),
    (t.Float(), D("0.25"), 0.25, None),
    (t.Float(), float("inf"), float("inf"), None),
    (t.Float(min=0, max=1), 1, 1.0, None),
    (t.Float(bits=32), 3.4e38, 3.4e38, None),
    # decimals
    (t.Decimal(5, 2), "1.5", D("1.50"), None),
    (t.Decimal(5, 2), 3, D("3.00"), None),
    (t.Decimal(5, 2), 0.1, D("0.10"), None),
    (t.Decimal(5, 2), D("-999.99"), D("-999.99"), None),
    (t.Decimal(5, 2), "2.345", D("2.34"), None),
    (t.Decimal(5, 2), "2.355", D("2.36"), None),
    (t.Decimal(5, 2), "1e2", D("100.00"), None),
    (t.Decimal(3, 3), "0.9994", D("0.999"), None),
    (t.Decimal(76, 0), "9" * 76, D("9" * 76), None),
    (t.Decimal(5, 2, min=0, max=10), "10", D("10.00"), None),
    # datetimes
    (t.DateTime(), "2024-05-06T07:08:09Z", dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC), None),
    (t.DateTime(), "2024-05-06T09:08:09+02:00", dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC), None),
    (
        t.DateTime(),
        "2024-05-06 07:08:09.5",
        dt.datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC),
        None,
    ),
    (t.DateTime(), "2024-05-06", dt.datetime(2024, 5, 6, tzinfo=UTC), None),
    (t.DateTime(), dt.datetime(2024, 5, 6, 7), dt.datetime(2024, 5, 6, 7, tzinfo=UTC), None),
    (
        t.DateTime(),
        dt.datetime(2024, 5, 6, 9, tzinfo=PLUS2),
        dt.datetime(2024, 5, 6, 7, tzinfo=UTC),
        None,
    ),
    (t.DateTime(), dt.date(2024, 5, 6), dt.datetime(2024, 5, 6, tzinfo=UTC), None),
    (t.DateTime(), 0, dt.datetime(1970, 1, 1, tzinfo=UTC), t.TimeLayouts(datetime="unix")),
    (t.DateTime(), 1714979289123, dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC), MILLI),
    (t.DateTime(), "1714979289123", dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC), MILLI),
    (t.DateTime(), "-1000", dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), MILLI),
    (t.DateTime(), 1.5, dt.datetime(1970, 1, 1, 0, 0, 0, 1500, tzinfo=UTC), MILLI),
    (t.DateTime(), "2024-05-06T07:08:09Z", dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC), MILLI),
    (
        t.DateTime(),
        1714979289123456,
        dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        t.TimeLayouts(datetime="unixmicro"),
    ),
    (
        t.DateTime(),
        253402300799999999,
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        t.TimeLayouts(datetime="unixmicro"),
    ),
    (
        t.DateTime(),
        1714979289123456789,
        dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        t.TimeLayouts(datetime="unixnano"),
    ),
    (t.DateTime(), "06/05/2024 07:08", dt.datetime(2024, 5, 6, 7, 8, tzinfo=UTC), FORMAT),
    (t.DateTime(), "2024-05-06T07:08:00Z", dt.datetime(2024, 5, 6, 7, 8, tzinfo=UTC), FORMAT),
    (
        t.DateTime(),
        "06/05/2024 07:08 +0200",
        dt.datetime(2024, 5, 6, 5, 8, tzinfo=UTC),
        t.TimeLayouts(datetime="%d/%m/%Y %H:%M %z"),
    ),
    # dates
    (t.Date(), "2024-05-06", dt.date(2024, 5, 6), None),
    (t.Date(), dt.date(2024, 5, 6), dt.date(2024, 5, 6), None),
    (t.Date(), "06/05/2024", dt.date(2024, 5, 6), FORMAT),
    (t.Date(), "2024-05-06", dt.date(2024, 5, 6), FORMAT),
    # times
    (t.Time(), "07:08:09", dt.time(7, 8, 9), None),
    (t.Time(), "07:08:09.25", dt.time(7, 8, 9, 250000), None),
    (t.Time(), "01:00:00+02:00", dt.time(23, 0), None),
    (t.Time(), "07:08:09Z", dt.time(7, 8, 9), None),
    (t.Time(), dt.time(7, 8), dt.time(7, 8), None),
    (t.Time(), dt.time(9, 8, tzinfo=PLUS2), dt.time(7, 8), None),
    (t.Time(), "7PM", dt.time(19), FORMAT),
    # years
    (t.Year(), 2024, 2024, None),
    (t.Year(), "1999", 1999, None),
    (t.Year(), 1.0, 1, None),
    (t.Year(), 9999, 9999, None),
    # uuids
    (t.UUID(), UUID_TEXT, UUID_TEXT, None),
    (t.UUID(), UUID_TEXT.upper(), UUID_TEXT, None),
    (t.UUID(), "{" + UUID_TEXT.replace("-", "") + "}", UUID_TEXT, None),
    (t.UUID(), uuid.UUID(UUID_TEXT), UUID_TEXT, None),
    # ips
    (t.IP(), "192.168.0.1", "192.168.0.1", None),
    (t.IP(), "2001:DB8:0:0::1", "2001:db8::1", None),
    (t.IP(), ipaddress.ip_address("10.0.0.1"), "10.0.0.1", None),
    (t.IP(), ipaddress.ip_address("::1"), "::1", None),
    # json
    (t.JSON(), {"a": [1, 2.5, None, True, "x"]}, {"a": [1, 2.5, None, True, "x"]}, None),
    (t.JSON(), (1, (2,)), [1, [2]], None),
    (t.JSON(), "", "", None),
    (t.JSON(), "text", "text", None),
    (t.JSON(), 7, 7, None),
    # composites
    (t.Array(t.Int()), [1, "2", 3.0], [1, 2, 3], None),
    (t.Array(t.Int()), (1, 2), [1, 2], None),
    (
        t.Array(t.String(), min_elements=1, max_elements=2, unique=True),
        ["a", "b"],
        ["a", "b"],
        None,
    ),
    (t.Array(t.Decimal(3, 1), unique=True), ["1.0", "1.1"], [D("1.0"), D("1.1")], None),
    (t.Array(t.Array(t.Boolean())), [["true"], []], [[True], []], None),
    (t.Map(t.Int()), {"a": "1", "b": 2}, {"a": 1, "b": 2}, None),
    (t.Map(t.Date()), collections.OrderedDict(x="2024-01-02"), {"x": dt.date(2024, 1, 2)}, None),
    (
        t.Object([t.Property("n", t.Int()), t.Property("s", t.String(), read_optional=True)]),
        {"n": "1"},
        {"n": 1},
        None,
    ),
    (
        t.Array(t.Object([t.Property("at", t.DateTime())])),
        [{"at": "2024-01-01T00:00:00Z"}],
        [{"at": dt.datetime(2024, 1, 1, tzinfo=UTC)}],
        None,
    ),
]


@pytest.mark.parametrize(("kind", "value", "expected", "layouts"), ACCEPTED)
def test_accepted_inputs_normalize_to_canonical_values(
    kind: t.Type, value: Any, expected: Any, layouts: t.TimeLayouts | None
) -> None:
    result = normalize(kind, value, layouts)
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(expected, D):
        assert result.as_tuple().exponent == expected.as_tuple().exponent
    if isinstance(expected, dt.datetime):
        assert result.tzinfo is UTC


REJECTED: list[tuple[t.Type, Any, str, str, t.TimeLayouts | None]] = [
    (t.String(), 5, "type", "int", None),
    (t.String(), b"x", "type", "bytes", None),
    (t.String(max_length=2), "abc", "max_length", "str", None),
    (t.String(max_bytes=3), "éé", "max_bytes", "str", None),
    (t.String(values=["a"]), "b", "enum", "str", None),
    (t.String(pattern="[a-z]+"), "abc1", "pattern", "str", None),
    (t.String(pattern="[a-z]+"), "1abc", "pattern", "str", None),
    (t.Boolean(), "yes", "format", "str", None),
    (t.Boolean(), "True", "format", "str", None),
    (t.Boolean(), 1, "type", "int", None),
    (t.Int(), True, "type", "bool", None),
    (t.Int(), 1.5, "type", "float", None),
    (t.Int(), "1.5", "type", "str", None),
    (t.Int(), "one", "format", "str", None),
    (t.Int(), [1], "type", "list", None),
    (t.Int(), float("nan"), "type", "float", None),
    (t.Int(bits=8), 128, "range", "int", None),
    (t.Int(bits=8, unsigned=True), -1, "range", "int", None),
    (t.Int(bits=8, unsigned=True), "-1", "range", "str", None),
    (t.Int(min=10), 9, "range", "int", None),
    (t.Int(bits=64), 2**63, "range", "int", None),
    (t.Int(), "1e999999999", "range", "str", None),
    (t.Int(), D("sNaN"), "type", "Decimal", None),
    (t.Year(), "1e99999", "range", "str", None),
    (t.Float(), False, "type", "bool", None),
    (t.Float(), "x", "format", "str", None),
    (t.Float(), 10**400, "range", "int", None),
    (t.Float(real=True), float("nan"), "real", "float", None),
    (t.Float(real=True), "inf", "real", "str", None),
    (t.Float(min=0), -0.5, "range", "float", None),
    (t.Float(min=0), float("nan"), "range", "float", None),
    (t.Float(max=1), "2", "range", "str", None),
    (t.Float(bits=32), 3.5e38, "range", "float", None),
    (t.Float(), D("sNaN"), "type", "Decimal", None),
    (t.Decimal(5, 2), "abc", "format", "str", None),
    (t.Decimal(5, 2), True, "type", "bool", None),
    (t.Decimal(5, 2), [], "type", "list", None),
    (t.Decimal(5, 2), "1000", "precision", "str", None),
    (t.Decimal(5, 2), "999.995", "precision", "str", None),
    (t.Decimal(5, 2), "1e100000", "precision", "str", None),
    (t.Decimal(5, 2), "NaN", "range", "str", None),
    (t.Decimal(5, 2), float("inf"), "range", "float", None),
    (t.Decimal(5, 2, min=0), "-0.01", "range", "str", None),
    (t.DateTime(), "2024-13-01T00:00:00Z", "format", "str", None),
    (t.DateTime(), "yesterday", "format", "str", None),
    (t.DateTime(), 1714979289, "type", "int", None),
    (t.DateTime(), dt.time(1), "type", "time", None),
    (t.DateTime(), "9999-12-31T23:00:00-05:00", "range", "str", None),
    (t.DateTime(), "x", "format", "str", MILLI),
    (t.DateTime(), 10**20, "range", "int", MILLI),
    (t.DateTime(), "9" * 5000, "range", "str", MILLI),
    (t.DateTime(), float("inf"), "range", "float", MILLI),
    (t.DateTime(), True, "type", "bool", MILLI),
    (t.DateTime(), "06-05-2024", "format", "str", t.TimeLayouts(datetime="%d/%m/%Y")),
    (t.Date(), "2024-05-06T00:00:00", "format", "str", None),
    (t.Date(), dt.datetime(2024, 5, 6), "type", "datetime", None),
    (t.Date(), 20240506, "type", "int", None),
    (t.Date(), "06/05/2024", "format", "str", None),
    (t.Time(), "25:00", "format", "str", None),
    (t.Time(), 3600, "type", "int", None),
    (t.Year(), 0, "range", "int", None),
    (t.Year(), "10000", "range", "str", None),
    (t.Year(), True, "type", "bool", None),
    (t.Year(), "MMXXIV", "format", "str", None),
    (t.UUID(), "not-a-uuid", "format", "str", None),
    (t.UUID(), 5, "type", "int", None),
    (t.IP(), "300.1.1.1", "format", "str", None),
    (t.IP(), ipaddress.ip_network("10.0.0.0/8"), "type", "IPv4Network", None),
    (t.IP(), 3232235521, "type", "int", None),
    (t.JSON(), float("nan"), "type", "float", None),
    (t.JSON(), {1: "a"}, "type", "dict", None),
    (t.JSON(), {"a": {1, 2}}, "type", "dict", None),
    (t.JSON(), D("1"), "type", "Decimal", None),
    (t.Array(t.Int()), "1,2", "type", "str", None),
    (t.Array(t.Int()), {1, 2}, "type", "set", None),
    (t.Array(t.Int(), min_elements=2), [1], "min_elements", "list", None),
    (t.Array(t.Int(), max_elements=1), [1, 2], "max_elements", "list", None),
    (t.Array(t.Int(), unique=True), [1, "1"], "unique", "list", None),
    (t.Map(t.Int()), [("a", 1)], "type", "list", None),
    (t.Object([t.Property("n", t.Int())]), "x", "type", "str", None),
]


@pytest.mark.parametrize(("kind", "value", "rule", "value_type", "layouts"), REJECTED)
def test_rejected_inputs_name_the_rule_and_the_value_type(
    kind: t.Type, value: Any, rule: str, value_type: str, layouts: t.TimeLayouts | None
) -> None:
    with pytest.raises(t.ValidationError) as info:
        normalize(kind, value, layouts)
    error = info.value
    assert (error.path, error.rule, error.value_type) == ("v", rule, value_type), str(error)
    assert str(error).startswith('property "v": ')
    assert str(error).endswith(f"(got {value_type})")
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("kind", "value", "path", "rule"),
    [
        (t.Array(t.Int()), [1, "x", 3], "v[1]", "format"),
        (t.Array(t.Int()), [1, None], "v[1]", "nullable"),
        (t.Array(t.Int()), [1, ""], "v[1]", "nullable"),
        (t.Array(t.Array(t.Int())), [[1], [2, 3, True]], "v[1][2]", "type"),
        (t.Map(t.Int()), {"good": 1, "bad_key": "x"}, "v.bad_key", "format"),
        (t.Map(t.Int()), {"a b": "x"}, "v.*", "format"),
        (t.Map(t.Int()), {1: 1}, "v.*", "type"),
        (
            t.Array(t.Object([t.Property("sku", t.String(max_length=3))])),
            [{"sku": "abc"}, {"sku": "abcd"}],
            "v[1].sku",
            "max_length",
        ),
        (
            t.Array(t.Object([t.Property("sku", t.String())])),
            [{"sku": "a", "price": 1}],
            "v[0].price",
            "unknown_property",
        ),
        (
            t.Object([t.Property("inner", t.Object([t.Property("x", t.Int())]))]),
            {"inner": {}},
            "v.inner.x",
            "required",
        ),
    ],
)
def test_nested_errors_carry_the_full_path(kind: t.Type, value: Any, path: str, rule: str) -> None:
    with pytest.raises(t.ValidationError) as info:
        normalize(kind, value)
    assert (info.value.path, info.value.rule) == (path, rule), str(info.value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (t.Int(), ""),
        (t.Int(), None),
        (t.Date(), ""),
        (t.Boolean(), ""),
        (t.Array(t.Int()), ""),
        (t.String(values=["a"]), ""),
        (t.String(), None),
        (t.JSON(), None),
    ],
)
def test_empty_string_and_none_become_null_where_nullable(kind: t.Type, value: Any) -> None:
    assert normalize(kind, value, nullable=True) is None
    with pytest.raises(t.ValidationError) as info:
        normalize(kind, value)
    assert info.value.rule == "nullable"


def test_empty_string_stays_a_value_for_plain_strings_and_json() -> None:
    assert normalize(t.String(), "", nullable=True) == ""
    assert normalize(t.String(values=["", "a"]), "", nullable=True) == ""
    assert normalize(t.JSON(), "", nullable=True) == ""


def test_unknown_properties_are_rejected_by_name() -> None:
    validate = t.compile(t.Object([t.Property("a", t.Int())]))
    with pytest.raises(t.ValidationError) as info:
        validate({"a": 1, "zip": "x"})
    assert (info.value.path, info.value.rule, info.value.value_type) == (
        "zip",
        "unknown_property",
        "str",
    )
    with pytest.raises(t.ValidationError) as info:
        validate({"a": 1, "not a name": 5})
    assert info.value.path == "*"


def test_the_record_itself_must_be_a_mapping() -> None:
    validate = t.compile(t.Object([t.Property("a", t.Int(), nullable=True)]))
    assert validate(collections.OrderedDict(a=None)) == {"a": None}
    assert validate(collections.ChainMap({"a": "3"})) == {"a": 3}
    for bad in (None, "", [("a", 1)], 5):
        with pytest.raises(t.ValidationError) as info:
            validate(bad)  # type: ignore[arg-type]
        assert (info.value.path, info.value.rule) == ("", "type")
        assert str(info.value).startswith("record: not an object")


def test_output_is_a_new_dict_and_input_is_untouched() -> None:
    schema = t.Object([t.Property("n", t.Int()), t.Property("tags", t.Array(t.String()))])
    data = {"n": "1", "tags": ("a",)}
    out = t.compile(schema)(data)
    assert out == {"n": 1, "tags": ["a"]}
    assert data == {"n": "1", "tags": ("a",)}
    assert out is not data


def test_float_nan_allowed_without_real_and_bounds() -> None:
    assert math.isnan(normalize(t.Float(), float("nan")))
    assert math.isnan(normalize(t.Float(), "NaN"))


@settings(max_examples=300, deadline=None)
@given(
    layout=st.sampled_from(["unix", "unixmilli", "unixmicro", "unixnano"]),
    seconds=st.integers(-(2**31) + 1, 2**31 - 1),
    fraction=st.integers(0, 10**9 - 1),
)
def test_integer_timestamps_are_exact_to_the_microsecond(
    layout: str, seconds: int, fraction: int
) -> None:
    per_second = {"unix": 1, "unixmilli": 10**3, "unixmicro": 10**6, "unixnano": 10**9}[layout]
    value = seconds * per_second + fraction * per_second // 10**9
    exact = dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(
        microseconds=value * 10**6 // per_second
    )
    layouts = t.TimeLayouts(datetime=layout)
    if (
        not dt.datetime(1, 1, 1, tzinfo=UTC)
        <= exact
        <= dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    ):
        return
    assert normalize(t.DateTime(), value, layouts) == exact
    assert normalize(t.DateTime(), str(value), layouts) == exact
