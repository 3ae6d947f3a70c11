"""Mappings: every function with its null/missing and error cases, output building."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import ipaddress
import uuid
from typing import Any

import pytest

from syncline.engine.expressions import (
    FUNCTION_NAMES,
    ExpressionError,
    Mapping,
    MappingError,
    compile_filter,
    compile_mapping,
)

RECORD: dict[str, Any] = {
    "name": "  Ann Lee  ",
    "email": "Ann.Lee@Example.COM",
    "country": "IT",
    "age": 41,
    "age_text": " 42 ",
    "price": 12.5,
    "amount": decimal.Decimal("10.25"),
    "vip": True,
    "nothing": None,
    "blank": "",
    "tags": ["a", None, "b", 3],
    "labels": {"en": "Shoes", "it": "Scarpe"},
    "signed_up": dt.datetime(2024, 5, 1, 12, 30, 15, tzinfo=dt.UTC),
    "birthday": dt.date(1990, 1, 2),
    "iso": "2024-05-01T14:30:15+02:00",
    "custom": "01/05/2024 12:30",
    "epoch": 1714566615,
    "epoch_ms": "1714566615000",
    "csv": "a,b,,c",
    "traits": {"first_name": "Ann", "last_name": None},
    "nan": float("nan"),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "ip": ipaddress.ip_address("192.0.2.1"),
    "opens": dt.time(9, 30),
}

MISSING = object()  # expected marker: the output property is left out

SIGNED_UP = dt.datetime(2024, 5, 1, 12, 30, 15, tzinfo=dt.UTC)

CASES: list[tuple[str, Any]] = [
    # paths and constants
    ("email", "Ann.Lee@Example.COM"),
    ("traits.first_name", "Ann"),
    ("traits.last_name", None),
    ("traits.middle_name", MISSING),
    ("missing", MISSING),
    ("tags[2]", "b"),
    ("'constant'", "constant"),
    ('"double"', "double"),
    ("'it\\'s'", "it's"),
    ("42", 42),
    ("-1.5", -1.5),
    ("true", True),
    ("null", None),
    # lower / upper / trim
    ("lower(email)", "ann.lee@example.com"),
    ("upper(country)", "IT"),
    ("trim(name)", "Ann Lee"),
    ("lower(nothing)", None),
    ("upper(missing)", MISSING),
    ("trim(blank)", ""),
    # coalesce / default
    ("coalesce(missing, nothing, email)", "Ann.Lee@Example.COM"),
    ("coalesce(nothing, missing)", MISSING),  # missing wins over null
    ("coalesce(nothing, nothing)", None),
    ("coalesce(missing)", MISSING),
    ("coalesce(blank, 'x')", ""),
    ("default(blank, 'x')", "x"),
    ("default(nothing, 'x')", "x"),
    ("default(missing, 'x')", "x"),
    ("default(country, 'x')", "IT"),
    ("default(missing, missing)", MISSING),
    # concat
    ("concat(traits.first_name, ' ', traits.last_name)", "Ann "),
    ("concat('n', age, vip, price)", "n41true12.5"),
    ("concat(nothing, missing)", MISSING),
    ("concat(nothing, blank)", ""),
    ("concat(nothing)", None),
    ("concat(missing)", MISSING),
    ("concat(amount, '/', birthday)", "10.25/1990-01-02"),
    ("concat(signed_up)", "2024-05-01T12:30:15Z"),
    # if
    ("if(country = 'IT', 'EU', 'other')", "EU"),
    ("if(country in ('FR', 'DE'), 'EU', 'other')", "other"),
    ("if(missing = 'IT', 'EU', 'other')", "other"),
    ("if(vip, 'VIP', 'regular')", "VIP"),
    ("if(age, 'yes', 'no')", "no"),  # a bare value must be exactly true
    ("if(age > 100, 'old')", None),
    ("if(true, missing, 'x')", MISSING),
    ("if(age > 18 and vip, upper(country), null)", "IT"),
    # split / join
    ("split(csv, ',')", ["a", "b", "", "c"]),
    ("split(nothing, ',')", None),
    ("join(tags, '-')", "a-b-3"),
    ("join(split(csv, ','), '|')", "a|b||c"),
    ("join(missing, ',')", MISSING),
    # substring (1-based)
    ("substring('hello', 1, 3)", "hel"),
    ("substring('hello', 2)", "ello"),
    ("substring('hello', 4, 10)", "lo"),
    ("substring('hello', 9, 2)", ""),
    ("substring('hello', 1, 0)", ""),
    ("substring(nothing, 1, 2)", None),
    # replace
    ("replace(csv, ',', ';')", "a;b;;c"),
    ("replace('aaa', 'a', '')", ""),
    ("replace(missing, 'a', 'b')", MISSING),
    # len
    ("len(email)", 19),
    ("len(tags)", 4),
    ("len(labels)", 2),
    ("len(blank)", 0),
    ("len(nothing)", None),
    # conversions
    ("to_string(age)", "41"),
    ("to_string(price)", "12.5"),
    ("to_string(vip)", "false" if False else "true"),
    ("to_string(amount)", "10.25"),
    ("to_string(signed_up)", "2024-05-01T12:30:15Z"),
    ("to_string(birthday)", "1990-01-02"),
    ("to_string(tags)", '["a",null,"b",3]'),
    ("to_string(labels)", '{"en":"Shoes","it":"Scarpe"}'),
    ("to_string(nothing)", None),
    ("to_string(id)", "12345678-1234-5678-1234-567812345678"),
    ("to_string(ip)", "192.0.2.1"),
    ("to_string(opens)", "09:30:00"),
    ("to_int(age_text)", 42),
    ("to_int('-7')", -7),
    ("to_int('+7')", 7),
    ("to_int(12.0)", 12),
    ("to_int(amount * 4)", 41),
    ("to_int(age)", 41),
    ("to_int(missing)", MISSING),
    ("to_float(age_text)", 42.0),
    ("to_float('1e3')", 1000.0),
    ("to_float('.5')", 0.5),
    ("to_float(amount)", 10.25),
    ("to_float(age)", 41.0),
    ("to_float(nothing)", None),
    ("to_decimal('10.10')", decimal.Decimal("10.10")),
    ("to_decimal(0.1)", decimal.Decimal("0.1")),
    ("to_decimal(age)", decimal.Decimal(41)),
    ("to_decimal(amount)", decimal.Decimal("10.25")),
    ("to_decimal(nothing)", None),
    # datetimes
    ("to_datetime(iso)", SIGNED_UP),
    ("to_datetime('2024-05-01T12:30:15Z')", SIGNED_UP),
    ("to_datetime('2024-05-01 12:30:15')", SIGNED_UP),  # no offset: UTC
    ("to_datetime('2024-05-01')", dt.datetime(2024, 5, 1, tzinfo=dt.UTC)),
    ("to_datetime(custom, '%d/%m/%Y %H:%M')", dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)),
    (
        "to_datetime('01/05/2024 12:30 +0200', '%d/%m/%Y %H:%M %z')",
        dt.datetime(2024, 5, 1, 10, 30, tzinfo=dt.UTC),
    ),
    ("to_datetime(epoch, 'unix')", SIGNED_UP),
    ("to_datetime(epoch_ms, 'unixmilli')", SIGNED_UP),
    ("to_datetime(1714566615000000, 'unixmicro')", SIGNED_UP),
    ("to_datetime(1714566615000000000, 'unixnano')", SIGNED_UP),
    ("to_datetime(1.5, 'unix')", dt.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=dt.UTC)),
    ("to_datetime(signed_up)", SIGNED_UP),
    ("to_datetime(birthday)", dt.datetime(1990, 1, 2, tzinfo=dt.UTC)),
    ("to_datetime(nothing)", None),
    ("format_datetime(signed_up, '%Y-%m-%d')", "2024-05-01"),
    ("format_datetime(signed_up)", "2024-05-01T12:30:15Z"),
    ("format_datetime(iso, '%H:%M')", "12:30"),
    ("format_datetime(signed_up, 'unix')", 1714566615),
    ("format_datetime(signed_up, 'unixmilli')", 1714566615000),
    ("format_datetime(birthday, '%d.%m.%Y')", "02.01.1990"),
    ("format_datetime(missing, '%Y')", MISSING),
    # lookup
    ("lookup(labels, 'it')", "Scarpe"),
    ("lookup(labels, 'fr')", MISSING),
    ("lookup({'IT': 'Italy', 'FR': 'France'}, country)", "Italy"),
    ("lookup({'1': 'one'}, 1)", "one"),
    ("lookup({'IT': 'Italy'}, missing)", MISSING),
    ("lookup(nothing, 'x')", None),
    ("default(lookup({'FR': 'France'}, country), 'Other')", "Other"),
    ("lookup({'k': upper(country)}, 'k')", "IT"),
    # hashing and emails
    ("hash_sha256('abc')", hashlib.sha256(b"abc").hexdigest()),
    ("hash_sha256(lower(trim(email)))", hashlib.sha256(b"ann.lee@example.com").hexdigest()),
    ("hash_sha256(nothing)", None),
    ("email_domain(email)", "example.com"),
    ("email_domain(' a@B.org ')", "b.org"),
    ("email_domain('no-at-sign')", None),
    ("email_domain('@example.com')", None),
    ("email_domain('a@')", None),
    ("email_domain('a\"@\"b@x.io')", "x.io"),
    ("email_domain(missing)", MISSING),
    # arithmetic
    ("age + 1", 42),
    ("age - 50", -9),
    ("age * 2", 82),
    ("age / 2", 20.5),
    ("10 / 5", 2.0),
    ("price * 2", 25.0),
    ("amount + 1", decimal.Decimal("11.25")),
    ("amount - 0.25", decimal.Decimal("10.00")),
    ("amount / 2", decimal.Decimal("5.125")),
    ("-amount", decimal.Decimal("-10.25")),
    ("price - 0.5", 12.0),
    ("amount * 0.5", decimal.Decimal("5.125")),
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("-age", -41),
    ("- -age", 41),
    ("2 - -1", 3),
    ("age + nothing", None),
    ("age + missing", MISSING),
    ("missing * nothing", MISSING),
    # conditions as values
    ("country = 'IT'", True),
    ("age > 50 or vip", True),
    ("missing exists", False),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=[c[0] for c in CASES])
def test_function_table(expression: str, expected: Any) -> None:
    out = compile_mapping({"out": expression})(RECORD)
    if expected is MISSING:
        assert out == {}
    else:
        assert "out" in out
        assert out["out"] == expected
        assert type(out["out"]) is type(expected)


def test_every_function_is_in_the_table() -> None:
    used = {name for expression, _ in CASES for name in FUNCTION_NAMES if f"{name}(" in expression}
    assert used | {"now"} == FUNCTION_NAMES


def test_now_is_the_current_utc_time() -> None:
    before = dt.datetime.now(dt.UTC)
    value = compile_mapping({"t": "now()"})({})["t"]
    assert before <= value <= dt.datetime.now(dt.UTC)
    assert value.tzinfo is dt.UTC


ERRORS: list[tuple[str, str, str]] = [
    ("to_int(email)", "to_int", "the string is not an integer"),
    ("to_int('1_000')", "to_int", "the string is not an integer"),
    ("to_int(price)", "to_int", "the number has a fractional part"),
    ("to_int(vip)", "to_int", "a value of kind boolean cannot become an integer"),
    ("to_float(email)", "to_float", "the string is not a number"),
    ("to_float('nan')", "to_float", "the string is not a number"),
    ("to_float(tags)", "to_float", "a value of kind array cannot become a number"),
    ("to_decimal('1,5')", "to_decimal", "the string is not a number"),
    ("to_datetime(email)", "to_datetime", "the string is not an ISO 8601 datetime"),
    ("to_datetime(email, '%Y')", "to_datetime", "the string does not match the layout"),
    (
        "to_datetime(epoch)",
        "to_datetime",
        "a value of kind number needs a unix layout such as 'unix'",
    ),
    ("to_datetime(email, 'unix')", "to_datetime", "the string is not a number"),
    ("to_datetime(10000000000000000, 'unix')", "to_datetime", "the unix time is out of range"),
    ("to_datetime(iso, 5)", "to_datetime", "the layout must be a string, not number"),
    ("format_datetime(email, '%Y')", "format_datetime", "the string is not an ISO 8601 datetime"),
    ("format_datetime(age, '%Y')", "format_datetime", "the value must be a datetime, not number"),
    ("lower(age)", "lower", "the value must be a string, not number"),
    ("upper(tags)", "upper", "the value must be a string, not array"),
    ("trim(vip)", "trim", "the value must be a string, not boolean"),
    ("split(csv, '')", "split", "the separator must not be empty"),
    ("split(age, ',')", "split", "the value must be a string, not number"),
    ("join(email, ',')", "join", "the first argument must be an array, not string"),
    ("join(tags, nothing)", "join", "the separator must be a string, not null"),
    ("substring(email, 0, 2)", "substring", "the start must be an integer of at least 1"),
    ("substring(email, 1, -1)", "substring", "the length must be a non-negative integer"),
    ("replace(email, '', 'x')", "replace", "the text to replace must not be empty"),
    ("len(age)", "len", "the value must be a string, array or object, not number"),
    ("lookup(email, 'x')", "lookup", "the first argument must be an object, not string"),
    ("lookup(labels, tags)", "lookup", "the key must be a string or number, not array"),
    ("hash_sha256(age)", "hash_sha256", "the value must be a string, not number"),
    ("email_domain(age)", "email_domain", "the value must be a string, not number"),
    ("concat(email, vip, labels, to_string(1.0 / 0))", "/", "division by zero"),
    ("age / 0", "/", "division by zero"),
    ("amount / 0", "/", "division by zero"),
    ("email + 1", "+", "'+' needs numbers, not string; use concat() to join strings"),
    ("vip * 2", "*", "'*' needs numbers, not boolean; use concat() to join strings"),
    ("-email", "-", "'-' needs numbers, not string; use concat() to join strings"),
    ("1e308 * 10", "*", "the result is not finite"),
    ("1e308 / 1e-308", "/", "the result is not finite"),
    ("amount + nan", "+", "an operand is not finite"),
    ("nan + 1", "+", "the result is not finite"),
    ("to_decimal('1e999999') * to_decimal('1e999999')", "*", "the result is out of range"),
    ("to_int(nan)", "to_int", "the number is not finite"),
    ("to_float(" + "9" * 400 + ")", "to_float", "the number is too large for a float"),
    ("to_decimal(nan)", "to_decimal", "the number is not finite"),
    ("to_decimal(vip)", "to_decimal", "a value of kind boolean cannot become a number"),
    ("to_datetime(nan, 'unix')", "to_datetime", "the number is not finite"),
    ("to_datetime(vip, 'unix')", "to_datetime", "a value of kind boolean is not a unix time"),
    ("to_string(nan)", "to_string", "the number is not finite"),
    ("concat(labels, nan)", "concat", "the number is not finite"),
]


@pytest.mark.parametrize(("expression", "function", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_runtime_errors_name_output_and_function_not_value(
    expression: str, function: str, message: str
) -> None:
    mapping = compile_mapping({"ok": "country", "target.value": expression})
    with pytest.raises(MappingError) as info:
        mapping(RECORD)
    error = info.value
    assert (error.output, error.function, error.message) == ("target.value", function, message)
    assert str(error) == f'mapping for "target.value": {function}: {message}'
    for value in ("Ann", "Example", "Scarpe", "41", "12.5", "1714566615"):
        assert value not in str(error)


def test_nested_outputs_build_objects_in_order() -> None:
    mapping = compile_mapping(
        {
            "email": "lower(email)",
            "address.city": "'Rome'",
            "address.geo.country": "country",
            "address.geo.region": "missing",
            "profile.middle": "missing",
            "profile.last": "traits.last_name",
        }
    )
    assert isinstance(mapping, Mapping)
    assert mapping.outputs == (
        "email",
        "address.city",
        "address.geo.country",
        "address.geo.region",
        "profile.middle",
        "profile.last",
    )
    assert mapping.paths == frozenset({"email", "country", "missing", "traits.last_name"})
    out = mapping(RECORD)
    assert out == {
        "email": "ann.lee@example.com",
        "address": {"city": "Rome", "geo": {"country": "IT"}},
        "profile": {"last": None},
    }
    # Objects appear only when a property inside them has a value.
    assert compile_mapping({"a.b": "missing"})(RECORD) == {}


def test_each_call_returns_a_new_dict() -> None:
    mapping = compile_mapping({"a.b": "country"})
    first, second = mapping(RECORD), mapping(RECORD)
    assert first == second
    assert first is not second and first["a"] is not second["a"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"a": "lowr(email)"}, "unknown function 'lowr'"),
        ({"a": "lower(email, 1)"}, "lower() takes 1 argument, not 2"),
        ({"a": "now(1)"}, "now() takes 0 arguments, not 1"),
        ({"a": "coalesce()"}, "coalesce() takes at least 1 argument, not 0"),
        ({"a": "if(vip)"}, "if() takes 2 to 3 arguments, not 1"),
        ({"a": "email +"}, "expected a value but found end of expression"),
        ({"a.b": "email", "a": "country"}, "output 'a.b' is inside output 'a'"),
        ({"a..b": "email"}, "an output path is names separated by dots"),
        ({" a": "email"}, "an output path is names separated by dots"),
        ({"a": ""}, "the expression is empty"),
    ],
)
def test_compile_errors(source: dict[str, str], message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_mapping(source)
    assert info.value.message.startswith(message)


def test_expressions_must_be_text() -> None:
    with pytest.raises(TypeError):
        compile_mapping({"a": 5})  # type: ignore[dict-item]


def test_user_text_is_data_never_code() -> None:
    # Literals, keys and output names that look like Python stay plain values.
    tricky = [
        "__import__('os').system('false')",
        "' + r + '",
        '"; raise SystemExit; "',
        "\\n    return 1\\n",
        "{_M}",
    ]
    for text in tricky:
        escaped = text.replace("\\", "\\\\").replace("'", "\\'")
        name = text.replace(".", "_").strip()
        mapping = compile_mapping({f"out.{name}": f"'{escaped}'", "k": f"lookup(o, '{escaped}')"})
        assert mapping({"o": {text: 1}}) == {"out": {name: text}, "k": 1}
        passes = compile_filter(f"['{escaped}'] = '{escaped}'")
        assert passes({text: text}) and not passes({})
    names = compile_mapping({"r": "r", "o": "o", "v": "v", "e": "e", "_M": "_M", "_k1": "_t1"})
    record = {"r": 1, "o": 2, "v": 3, "e": 4, "_M": 5, "_t1": 6}
    assert names(record) == {"r": 1, "o": 2, "v": 3, "e": 4, "_M": 5, "_k1": 6}


def test_values_nested_deeper_than_python_can_walk() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    record = {"a": deep, "b": deep}
    assert compile_filter("a = b")(record) is False
    assert compile_filter("a contains b")(record) is False
    with pytest.raises(MappingError) as info:
        compile_mapping({"x": "to_string(a)"})(record)
    assert info.value.message == "the value cannot be written as JSON"
