"""Filters: every operator, null/missing semantics, mismatched kinds, structured form."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest

from syncline.engine.expressions import ExpressionError, Filter, check_filter, compile_filter

RECORD: dict[str, Any] = {
    "type": "track",
    "event": "Product Added",
    "email": "ann@example.com",
    "blank": "",
    "nothing": None,
    "age": 42,
    "score": 7.5,
    "amount": decimal.Decimal("10.50"),
    "vip": True,
    "tags": ["a", "b", 3],
    "empty_list": [],
    "empty_object": {},
    "signed_up": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
    "naive_time": dt.datetime(2024, 5, 1, 12, 0),
    "birthday": dt.date(1990, 1, 2),
    "timestamp": "2024-05-01T12:00:00Z",
    "address": {"city": "Rome", "zip": "00100", "lines": ["Via Roma 1", "Int. 2"]},
    "traits": {"email": "ann@example.com", "type": "person"},
    "context": {"page": {"url": "https://example.com/cart?x=1"}},
    "properties": {"items": [{"price": 12.0, "sku": "A-1"}, {"price": 3, "sku": "B-2"}]},
    "first name": "Ann",
    "opens": dt.time(9, 30),
    "nan": float("nan"),
    "list_a": ["a", 1, {"x": [True]}],
    "list_b": ("a", 1.0, {"x": [True]}),
    "list_c": ["a", 1, {"x": [1]}],
    "obj_a": {"k": 1, "d": dt.date(2024, 1, 1)},
    "obj_b": {"d": "2024-01-01", "k": decimal.Decimal(1)},
    "obj_c": {"k": 1},
}

CASES: list[tuple[str, bool]] = [
    # is / = and their negations
    ("type is 'track'", True),
    ("type = 'track'", True),
    ('type = "track"', True),
    ("type is 'page'", False),
    ("type is not 'page'", True),
    ("type != 'track'", False),
    ("age = 42", True),
    ("age = 42.0", True),
    ("amount = 10.5", True),
    ("vip = true", True),
    ("vip is false", False),
    ("vip = 1", False),  # booleans are not numbers
    ("age = '42'", False),  # strings are not numbers
    ("age != '42'", True),  # != is the exact negation of =
    ("nothing = null", True),
    ("missing = null", True),
    ("email = null", False),
    ("missing != 'x'", True),
    ("missing = 'x'", False),
    ("tags = tags", True),
    ("list_a = list_b", True),
    ("list_a = list_c", False),
    ("obj_a = obj_b", True),
    ("obj_a = obj_c", False),
    ("tags = address", False),
    ("address = address", True),
    # ordering
    ("age > 40", True),
    ("age >= 42", True),
    ("age < 42", False),
    ("age <= 42", True),
    ("score > 7", True),
    ("amount < 11", True),
    ("amount > 10.49", True),
    ("email > 'a'", True),
    ("email < 'b'", True),
    ("'B' < 'a'", True),  # code point order
    ("age > '40'", False),  # incompatible kinds: false
    ("missing > 1", False),
    ("missing < 1", False),
    ("nothing >= 0", False),
    ("vip > false", False),  # booleans do not order
    ("tags > 1", False),
    # datetimes: an ISO string compares as a datetime with a datetime
    ("signed_up > '2024-01-01T00:00:00Z'", True),
    ("signed_up < '2024-01-01'", False),
    ("signed_up = '2024-05-01T14:00:00+02:00'", True),
    ("signed_up = '2024-05-01T12:00:00'", True),  # no offset: UTC
    ("naive_time = '2024-05-01T12:00:00Z'", True),  # naive values are UTC
    ("signed_up > 'not a date'", False),
    ("signed_up = 'not a date'", False),
    ("birthday < '2000-01-01'", True),
    ("birthday = '1990-01-02'", True),
    ("birthday = signed_up", False),  # a date is not a datetime
    ("timestamp > '2024-01-01'", True),  # strings compare as strings
    ("to_datetime(timestamp) = signed_up", True),
    ("'2024-01-01' < signed_up", True),  # either side may be the string
    ("'not a date' < signed_up", False),
    ("opens > '09:00'", True),
    ("opens = '09:30:00'", True),
    ("opens < 'noon'", False),
    # NaN equals and orders with nothing
    ("nan = nan", False),
    ("nan != nan", True),
    ("nan < 1", False),
    ("nan >= 1", False),
    ("nan in (1, 2)", False),
    # contains / starts / ends
    ("email contains '@example'", True),
    ("email contains 'EXAMPLE'", False),  # case-sensitive
    ("email does not contain 'z'", True),
    ("email does not contain '@'", False),
    ("tags contains 'a'", True),
    ("tags contains 3", True),
    ("tags contains 3.0", True),
    ("tags contains 'c'", False),
    ("age contains 4", False),
    ("missing contains 'a'", False),
    ("missing does not contain 'a'", True),
    ("email starts with 'ann'", True),
    ("email starts with 'bob'", False),
    ("email ends with '.com'", True),
    ("age starts with '4'", False),
    ("context.page.url starts with 'https://'", True),
    # empty / null / exists
    ("blank is empty", True),
    ("nothing is empty", True),
    ("missing is empty", True),
    ("empty_list is empty", True),
    ("empty_object is empty", True),
    ("email is empty", False),
    ("age is empty", False),
    ("email is not empty", True),
    ("blank is not empty", False),
    ("nothing is null", True),
    ("missing is null", True),
    ("blank is null", False),
    ("email is not null", True),
    ("nothing exists", True),  # present with a null value
    ("missing exists", False),
    ("missing does not exist", True),
    ("address.city exists", True),
    ("address.country exists", False),
    ("email.domain exists", False),  # a step into a string is missing
    ("nothing.x exists", False),
    # in
    ("type in ('track', 'page')", True),
    ("type in ('page', 'screen')", False),
    ("type not in ('page', 'screen')", True),
    ("age in (41, 42)", True),
    ("age in (42.0)", True),
    ("age in ('42')", False),
    ("vip in (1)", False),
    ("vip in (true)", True),
    ("missing in (null)", True),
    ("missing in ('a')", False),
    ("missing not in ('a')", True),
    ("signed_up in ('2024-05-01T12:00:00Z')", True),
    ("amount in (10.5)", True),
    ("type in (event, 'track')", True),
    ("age in (40 + 2)", True),
    # paths
    ("address.city = 'Rome'", True),
    ("address.lines[0] = 'Via Roma 1'", True),
    ("address.lines[-1] = 'Int. 2'", True),
    ("address.lines[5] exists", False),
    ("address.lines[-3] exists", False),
    ("properties.items[0].price > 10", True),
    ("properties.items[1].sku = 'B-2'", True),
    ("properties.items[0]['sku'] = 'A-1'", True),
    ("['first name'] = 'Ann'", True),
    ("traits.type = 'person'", True),  # keywords are fine after a dot
    ("tags[0] = 'a'", True),
    ("address[0] exists", False),  # index into an object
    ("tags['x'] exists", False),  # key into an array
    # and / or / not / parentheses
    ("type is 'track' and event is 'Product Added'", True),
    ("type is 'track' and event is 'Signed Up'", False),
    ("type is 'page' or event is 'Product Added'", True),
    ("type is 'page' or age < 0 or vip", True),
    ("type is 'page' or age < 0 or missing", False),
    ("not type is 'page'", True),
    ("not (type is 'track' and age > 50)", True),
    ("not not vip", True),
    ("type is 'page' and age > 1 or vip", True),  # and binds tighter than or
    ("type is 'page' and (age > 1 or vip)", False),
    ("(age + 8) / 10 = 5", True),
    # bare values: true only when exactly true
    ("vip", True),
    ("age", False),
    ("email", False),
    ("missing", False),
    ("not missing", True),
    # functions inside filters
    ("lower(email) = 'ann@example.com'", True),
    ("len(tags) = 3", True),
    ("email_domain(email) = 'example.com'", True),
    ("if(vip, 'y', 'n') = 'y'", True),
    # a failing function is null inside a filter
    ("to_int(email) = 1", False),
    ("to_int(email) is null", True),
    ("to_int(email) != 1", True),
    ("age / 0 > 1", False),
    ("lower(age) = '42'", False),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_operator_table(text: str, expected: bool) -> None:
    assert compile_filter(text)(RECORD) is expected


def test_filter_is_reusable_and_exposes_paths() -> None:
    f = compile_filter("type is 'track' and properties.items[0].price > 10 and lower(email) = 'x'")
    assert isinstance(f, Filter)
    assert f.paths == frozenset({"type", "properties.items.price", "email"})
    assert f({"type": "track", "properties": {"items": [{"price": 11}]}, "email": "X"})
    assert not f({"type": "track", "properties": {"items": []}, "email": "X"})
    assert not f({})


def test_keyword_spelling_is_flexible_in_whitespace() -> None:
    f = compile_filter("email   is\n  not   empty and tags  does  not   contain 'z'")
    assert f(RECORD)


def test_non_dict_intermediate_values_are_missing() -> None:
    f = compile_filter("a.b.c.d exists")
    for record in ({"a": 1}, {"a": {"b": [1]}}, {"a": {"b": {"c": "text"}}}, {"a": None}):
        assert f(record) is False
    assert f({"a": {"b": {"c": {"d": None}}}}) is True


STRUCTURED: list[tuple[Any, bool]] = [
    ({"property": "email", "operator": "is not empty"}, True),
    ({"property": "type", "operator": "is", "value": "track"}, True),
    ({"property": "age", "operator": ">", "value": 40}, True),
    ({"property": "age", "operator": "<", "value": 40.5}, False),
    ({"property": "type", "operator": "in", "values": ["page", "track"]}, True),
    ({"property": "type", "operator": "not in", "values": ["page"]}, True),
    ({"property": "signed_up", "operator": ">", "value": dt.datetime(2024, 1, 1)}, True),
    ({"property": "birthday", "operator": "=", "value": dt.date(1990, 1, 2)}, True),
    ({"property": "nothing", "operator": "is", "value": None}, True),
    ({"property": "vip", "operator": "is", "value": True}, True),
    ({"property": "amount", "operator": "=", "value": decimal.Decimal("10.5")}, True),
    ({"property": "email", "operator": "Does  Not Contain", "value": 'it\'s \\ "q"\n'}, True),
    ({"property": "['first name']", "operator": "starts with", "value": "A"}, True),
    (
        {
            "all": [
                {"property": "type", "operator": "is", "value": "track"},
                {"any": [{"property": "age", "operator": "<", "value": 18}, "vip"]},
            ]
        },
        True,
    ),
    ({"any": [{"property": "age", "operator": "<", "value": 18}, "missing exists"]}, False),
    ({"not": {"property": "type", "operator": "is", "value": "track"}}, False),
    ({"all": ["type is 'track'"]}, True),
]


@pytest.mark.parametrize(
    ("spec", "expected"), STRUCTURED, ids=[str(i) for i in range(len(STRUCTURED))]
)
def test_structured_form(spec: Any, expected: bool) -> None:
    assert compile_filter(spec)(RECORD) is expected


def test_structured_and_text_forms_agree() -> None:
    text = compile_filter("type is 'track' and (age < 18 or email ends with '.com')")
    structured = compile_filter(
        {
            "all": [
                {"property": "type", "operator": "is", "value": "track"},
                {
                    "any": [
                        {"property": "age", "operator": "<", "value": 18},
                        {"property": "email", "operator": "ends with", "value": ".com"},
                    ]
                },
            ]
        }
    )
    records = [
        RECORD,
        {"type": "track", "age": 10},
        {"type": "track", "email": "x@y.org"},
        {"type": "page", "age": 1},
        {},
    ]
    assert [text(r) for r in records] == [structured(r) for r in records]
    assert text.paths == structured.paths


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"property": "email", "operator": "is nto empty"}, "unknown operator 'is nto empty'"),
        ({"property": "email", "operator": "is empty", "value": 1}, "takes no value"),
        ({"property": "email", "operator": "is"}, "needs one 'value'"),
        ({"property": "email", "operator": "in", "values": []}, "non-empty list"),
        ({"property": "email", "operator": "in", "values": "abc"}, "non-empty list"),
        ({"property": "a = 1 or b", "operator": "exists"}, "must be a property path"),
        ({"property": "email", "operator": "is", "value": [1]}, "string, number, boolean or null"),
        ({"property": "email", "operator": "is", "value": float("nan")}, "finite number"),
        ({"property": "email", "operator": "exists", "extra": 1}, "unknown key 'extra'"),
        ({"operator": "exists"}, "needs a 'property'"),
        ({"all": []}, "non-empty list"),
        ({"all": [1]}, "must be an object or a string"),
        ({"all": ["type is"], "any": []}, "must be the only key"),
        ({"all": ["type is"]}, "expected a value"),
    ],
)
def test_structured_errors(spec: Any, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_filter(spec)
    assert message in info.value.message
    assert str(info.value).startswith("filter")


def test_structured_error_points_into_the_rewritten_condition() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_filter({"any": ["vip", {"property": "email", "operator": "is nto empty"}]})
    assert info.value.subject == "filter.any[1].operator"
    assert str(info.value).splitlines()[1:] == [
        "  is nto empty",
        "  ^^^^^^^^^^^^",
        "did you mean 'is not empty'?",
    ]


def test_filter_source_must_be_text_or_mapping() -> None:
    with pytest.raises(TypeError):
        compile_filter(["type is 'track'"])  # type: ignore[arg-type]


def test_compile_filter_rejects_unknown_functions_and_arity() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_filter("type is 'track' and lowr(email) = 'x' and uper(email) = 'y'")
    assert (info.value.message, info.value.column) == ("unknown function 'lowr'", 21)
    assert info.value.hint == "did you mean 'lower'?"
    with pytest.raises(ExpressionError) as info:
        compile_filter("len(email, 2) > 1")
    assert info.value.message == "len() takes 1 argument, not 2"


def test_check_filter_returns_a_syntax_error_as_the_only_problem() -> None:
    errors = check_filter("emial is", {"email"})
    assert [e.message for e in errors] == ["expected a value but found end of expression"]


def test_schema_paths_must_not_be_one_string() -> None:
    with pytest.raises(TypeError):
        check_filter("email exists", "email")
