"""Error messages with carets: parse errors, static schema checks, attributes."""

from __future__ import annotations

import pytest

from syncline.engine.expressions import (
    ExpressionError,
    check_filter,
    check_mapping,
    compile_filter,
    compile_mapping,
)

INPUT = {
    "traits",  # an opaque leaf: anything under it is accepted
    "email",
    "country",
    "address.city",
    "address.zip",
    "properties.items.price",
}
OUTPUT = {"email", "region", "address.city", "address.zip"}


def test_unknown_function_report() -> None:
    errors = check_mapping({"email": "lowr(traits.email)"}, INPUT, OUTPUT)
    assert [str(e) for e in errors] == [
        "mapping for \"email\": unknown function 'lowr' at column 1\n"
        "  lowr(traits.email)\n"
        "  ^^^^\n"
        "did you mean 'lower'?"
    ]
    error = errors[0]
    assert isinstance(error, ValueError)
    assert (error.expression, error.column, error.message) == (
        "lowr(traits.email)",
        1,
        "unknown function 'lowr'",
    )


def test_compile_raises_the_same_report() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_mapping({"email": "lowr(traits.email)"})
    assert str(info.value) == str(check_mapping({"email": "lowr(traits.email)"}, INPUT, OUTPUT)[0])


def test_unknown_input_property_with_suggestion() -> None:
    (error,) = check_mapping({"region": "if(contry = 'IT', 'EU', 'other')"}, INPUT, OUTPUT)
    assert str(error) == (
        "mapping for \"region\": unknown input property 'contry' at column 4\n"
        "  if(contry = 'IT', 'EU', 'other')\n"
        "     ^^^^^^\n"
        "did you mean 'country'?"
    )


def test_unknown_output_property() -> None:
    (error,) = check_mapping({"adress.city": "address.city"}, INPUT, OUTPUT)
    assert str(error) == (
        "mapping for \"adress.city\": unknown output property 'adress.city' at column 1\n"
        "  adress.city\n"
        "  ^^^^^^^^^^^\n"
        "did you mean 'address.city'?"
    )


def test_wrong_arity_underlines_the_call() -> None:
    (error,) = check_mapping({"email": "trim(lower(email), 'x')"}, INPUT, OUTPUT)
    assert str(error).splitlines() == [
        'mapping for "email": trim() takes 1 argument, not 2 at column 1',
        "  trim(lower(email), 'x')",
        "  ^^^^^^^^^^^^^^^^^^^^^^^",
    ]


def test_check_mapping_reports_everything_in_order() -> None:
    errors = check_mapping(
        {
            "email": "lower(emial)",
            "nope": "concat(country, adress.city, uper(email))",
            "region": "country =",
            "address.city": "address.city",
        },
        INPUT,
        OUTPUT,
    )
    assert [(e.subject, e.message, e.column) for e in errors] == [
        ('mapping for "email"', "unknown input property 'emial'", 7),
        ('mapping for "nope"', "unknown output property 'nope'", 1),
        ('mapping for "nope"', "unknown input property 'adress.city'", 17),
        ('mapping for "nope"', "unknown function 'uper'", 30),
        ('mapping for "region"', "expected a value but found end of expression", 10),
    ]


def test_schema_prefixes_and_opaque_leaves() -> None:
    ok = {
        "a": "traits.anything.deep",  # under an opaque leaf
        "b": "address",  # a prefix of listed paths is an object
        "c": "properties.items[0].price",  # indexes are dropped
    }
    assert check_mapping(ok, INPUT, {"a", "b", "c"}) == []
    (error,) = check_mapping({"a": "address.country"}, INPUT, {"a"})
    assert error.message == "unknown input property 'address.country'"


def test_schema_as_a_function() -> None:
    seen: list[str] = []

    def known(path: str) -> bool:
        seen.append(path)
        return path.startswith("ok")

    errors = check_filter("ok.a = 1 and bad.b = 2", known)
    assert [e.message for e in errors] == ["unknown input property 'bad.b'"]
    assert errors[0].hint == ""
    assert seen == ["ok.a", "bad.b"]


def test_check_filter_text() -> None:
    errors = check_filter("emial is not empty and lowr(country) = 'it'", INPUT)
    assert [str(e) for e in errors] == [
        "filter: unknown input property 'emial' at column 1\n"
        "  emial is not empty and lowr(country) = 'it'\n"
        "  ^^^^^\n"
        "did you mean 'email'?",
        "filter: unknown function 'lowr' at column 24\n"
        "  emial is not empty and lowr(country) = 'it'\n"
        "                         ^^^^\n"
        "did you mean 'lower'?",
    ]
    assert check_filter("email is not empty and country in ('IT', 'FR')", INPUT) == []


def test_check_filter_structured_names_the_clause() -> None:
    errors = check_filter(
        {
            "all": [
                {"property": "email", "operator": "is not empty"},
                {"any": ["country = 'IT'", {"property": "adress.zip", "operator": "exists"}]},
            ]
        },
        INPUT,
    )
    assert [str(e) for e in errors] == [
        "filter.all[1].any[1]: unknown input property 'adress.zip' at column 1\n"
        "  adress.zip exists\n"
        "  ^^^^^^^^^^\n"
        "did you mean 'address.zip'?"
    ]


PARSE_ERRORS: list[tuple[str, str, int, int]] = [
    # text, message, column, caret length
    ("type is", "expected a value but found end of expression", 8, 1),
    ("type = 'track", "unterminated string: add the closing '", 8, 6),
    ("type = 'a\\qb'", "unknown escape: use \\\\, \\', \\\", \\n, \\t or \\r", 10, 2),
    ("type is 'a' and", "expected a value but found end of expression", 16, 1),
    (
        "type is 'a' or or b",
        "expected a value but found the keyword 'or'; write ['or'] for a property with that name",
        16,
        2,
    ),
    ("(type is 'a'", "expected ')' but found end of expression", 13, 1),
    ("type is 'a')", "unexpected ')'; expected an operator or the end", 12, 1),
    ("type 'a'", "unexpected string; expected an operator or the end", 6, 3),
    ("type == 'a'", "expected a value but found '='", 7, 1),
    ("type ! 'a'", "'!' must be followed by '='", 6, 1),
    ("type = 'a' & b", "unexpected character '&'", 12, 1),
    ("email starts 'a'", "expected 'with' after 'starts' but found string", 14, 3),
    ("email does contain 'a'", "expected 'not' after 'does' but found 'contain'", 12, 7),
    (
        "email does not include 'a'",
        "expected 'contain' or 'exist' after 'does not' but found 'include'",
        16,
        7,
    ),
    ("lower(email) exists", "'exists' applies to a property path, not to a computed value", 1, 12),
    ("type in 'a'", "expected '(' after 'in' but found string", 9, 3),
    ("type in ('a' 'b')", "expected ',' or ')' in the 'in' list but found string", 14, 3),
    ("a.", "expected a property name after '.' but found end of expression", 3, 1),
    ("a[x]", "expected an integer index or a quoted key but found 'x'", 3, 1),
    ("a[1.5]", "expected an integer index or a quoted key but found number 1.5", 3, 3),
    ("a[0", "expected ']' but found end of expression", 4, 1),
    ("12abc = 1", "a number cannot be followed by a letter", 3, 1),
    (
        "lower(email",
        "expected ',' or ')' in the arguments of lower() but found end of expression",
        12,
        1,
    ),
    ("lookup({'a': 1, 'a': 2}, x)", "duplicate key in the object", 17, 3),
    ("lookup({a: 1}, x)", "expected a quoted key but found 'a'", 9, 1),
    ("a = 1 = 2", "unexpected '='; expected an operator or the end", 7, 1),
    ("   ", "the expression is empty", 1, 1),
]


@pytest.mark.parametrize(
    ("text", "message", "column", "length"), PARSE_ERRORS, ids=[p[0] for p in PARSE_ERRORS]
)
def test_parse_errors_point_at_the_column(
    text: str, message: str, column: int, length: int
) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_filter(text)
    error = info.value
    assert (error.message, error.column, error.length) == (message, column, length)
    assert error.expression == text
    rendered = str(error).splitlines()
    assert rendered[0] == f"filter: {message} at column {column}"
    assert rendered[1] == f"  {text}"
    caret = rendered[2]
    assert caret.index("^") == 2 + column - 1
    assert set(caret.strip()) == {"^"}


def test_multi_line_expressions_report_line_and_column() -> None:
    text = "country is 'IT'\n  and emial is not empty"
    (error,) = check_filter(text, INPUT)
    assert (error.line, error.column) == (2, 7)
    assert str(error).splitlines() == [
        "filter: unknown input property 'emial' at line 2, column 7",
        "    and emial is not empty",
        "        ^^^^^",
        "did you mean 'email'?",
    ]


def test_syntax_error_stops_the_check_of_that_expression_only() -> None:
    errors = check_mapping({"email": "lower(", "region": "upper(contry)"}, INPUT, OUTPUT)
    assert [(e.subject, e.column) for e in errors] == [
        ('mapping for "email"', 7),
        ('mapping for "region"', 7),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(" * 40 + "a" + ")" * 40, "the expression nests more than 32 levels deep"),
        ("not " * 40 + "a", "the expression nests more than 32 levels deep"),
        ("lower(" * 40 + "a" + ")" * 40, "the expression nests more than 32 levels deep"),
        ("-" * 40 + "a", "the expression nests more than 32 levels deep"),
        ("{'k': " * 40 + "1" + "}" * 40, "the expression nests more than 32 levels deep"),
        (
            " + ".join(["a"] * 100) + " > 1",
            "the expression is too deep (more than 64 nested operations)",
        ),
    ],
)
def test_nesting_is_bounded_with_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_filter(text)
    assert info.value.message.startswith(message)


def test_the_deepest_accepted_expressions_compile_and_run() -> None:
    nested = "(" * 32 + "a = 1" + ")" * 32
    calls = "lower(" * 31 + "trim(a)" + ")" * 31
    chain = " + ".join(["a"] * 63)
    wide = " and ".join(["a = 1"] * 2000)
    assert compile_filter(nested)({"a": 1})
    assert compile_filter(wide)({"a": 1})
    assert compile_filter(f"{chain} = 63")({"a": 1})
    assert compile_mapping({"x": calls})({"a": " A "}) == {"x": "a"}
    outputs = {f"out{i}.v": f"a + {i}" for i in range(500)}
    assert compile_mapping(outputs)({"a": 1})["out499"] == {"v": 500}
