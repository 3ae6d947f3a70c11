"""Property tests: whatever the input, only the documented errors come out."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncline.engine.expressions import (
    FUNCTION_NAMES,
    ExpressionError,
    MappingError,
    check_filter,
    check_mapping,
    compile_filter,
    compile_mapping,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = ["a", "b", "c", "email", "tags"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["", " ", "2024-05-01T12:00:00Z", "2024-05-01", "12:00:00", "a@b.c", "42", "1e3"]
    ),
    st.datetimes(timezones=st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=5))])),
    st.dates(),
    st.times(),
)

values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=3),
    ),
    max_leaves=8,
)

records = st.dictionaries(st.sampled_from(KEYS), values, max_size=5)

paths = st.sampled_from(
    ["a", "b", "c", "email", "tags", "a.b", "a.b.c", "tags[0]", "tags[-1]", "a['b']", "b[1].c"]
)
literals = st.one_of(
    st.sampled_from(["null", "true", "false", "0", "-1", "2.5", "1e400", "'2024-05-01T12:00:00Z'"]),
    st.text(alphabet="ab@. 1", max_size=4).map(lambda s: f"'{s}'"),
)
LAYOUTS = ["'unix'", "'unixmilli'", "'%Y-%m-%d'", "'%Q'", "'%'", "null"]


def _calls(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def call(name: str, args: list[str]) -> str:
        return f"{name}({', '.join(args)})"

    return st.one_of(
        st.builds(call, st.sampled_from(sorted(FUNCTION_NAMES)), st.lists(children, max_size=3)),
        st.builds(
            lambda v, layout: f"to_datetime({v}, {layout})", children, st.sampled_from(LAYOUTS)
        ),
        st.builds(
            lambda v, layout: f"format_datetime({v}, {layout})", children, st.sampled_from(LAYOUTS)
        ),
        st.builds(lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from("+-*/"), children),
        st.builds(lambda a: f"-{a}", children),
        st.builds(lambda k, v: f"{{'{k}': {v}}}", st.sampled_from(KEYS), children),
    )


value_exprs = st.recursive(st.one_of(paths, literals), _calls, max_leaves=6)

BINARY = [
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "is",
    "is not",
    "contains",
    "does not contain",
    "starts with",
    "ends with",
]
UNARY = ["is empty", "is not empty", "is null", "is not null"]


def _conditions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, b: f"({a} and {b})", children, children),
        st.builds(lambda a, b: f"({a} or {b})", children, children),
        st.builds(lambda a: f"not {a}", children),
    )


atoms = st.one_of(
    st.builds(lambda a, op, b: f"{a} {op} {b}", value_exprs, st.sampled_from(BINARY), value_exprs),
    st.builds(lambda a, op: f"{a} {op}", value_exprs, st.sampled_from(UNARY)),
    st.builds(lambda p, op: f"{p} {op}", paths, st.sampled_from(["exists", "does not exist"])),
    st.builds(
        lambda a, neg, items: f"{a} {neg}in ({', '.join(items)})",
        value_exprs,
        st.sampled_from(["", "not "]),
        st.lists(value_exprs, min_size=1, max_size=3),
    ),
    value_exprs,
)
conditions = st.recursive(atoms, _conditions, max_leaves=4)


@SETTINGS
@given(text=conditions, record=records)
def test_generated_filters_never_raise_at_run_time(text: str, record: dict[str, Any]) -> None:
    try:
        passes = compile_filter(text)
    except ExpressionError:
        return  # wrong arity of a random call: a documented compile-time error
    assert passes(record) in (True, False)


@SETTINGS
@given(text=value_exprs, record=records)
def test_generated_mappings_raise_only_mapping_errors(text: str, record: dict[str, Any]) -> None:
    try:
        mapping = compile_mapping({"out.value": text})
    except ExpressionError:
        return
    try:
        out = mapping(record)
    except MappingError as exc:
        assert exc.output == "out.value"
        return
    assert set(out) <= {"out"}


@SETTINGS
@given(text=st.text(alphabet="ab.()[]'\"=<>!,-+*/ 0123456789isnotandorlwe{}:\\\n", max_size=30))
def test_arbitrary_text_compiles_or_raises_expression_error(text: str) -> None:
    for attempt in (lambda: compile_filter(text), lambda: compile_mapping({"x": text})):
        try:
            attempt()
        except ExpressionError as exc:
            assert 1 <= exc.column <= len(text.split("\n")[exc.line - 1]) + 1
            assert str(exc)
    for error in check_filter(text, {"a", "b"}) + check_mapping({"x": text}, {"a"}, {"x"}):
        assert isinstance(error, ExpressionError)


@SETTINGS
@given(a=paths, b=st.one_of(paths, literals), record=records)
def test_negations_are_exact(a: str, b: str, record: dict[str, Any]) -> None:
    pairs = [
        (f"{a} = {b}", f"{a} != {b}"),
        (f"{a} is {b}", f"{a} is not {b}"),
        (f"{a} contains {b}", f"{a} does not contain {b}"),
        (f"{a} is empty", f"{a} is not empty"),
        (f"{a} is null", f"{a} is not null"),
        (f"{a} in ({b}, 'x')", f"{a} not in ({b}, 'x')"),
    ]
    for positive, negative in pairs:
        assert compile_filter(positive)(record) is not compile_filter(negative)(record)
        assert compile_filter(f"not ({positive})")(record) is compile_filter(negative)(record)


@SETTINGS
@given(a=paths, items=st.lists(st.one_of(paths, literals), min_size=1, max_size=4), record=records)
def test_in_is_a_chain_of_equalities(a: str, items: list[str], record: dict[str, Any]) -> None:
    as_in = compile_filter(f"{a} in ({', '.join(items)})")(record)
    as_or = compile_filter(" or ".join(f"{a} = {item}" for item in items))(record)
    assert as_in is as_or


@SETTINGS
@given(a=paths, b=st.one_of(paths, literals), record=records)
def test_orderings_are_consistent(a: str, b: str, record: dict[str, Any]) -> None:
    def holds(op: str) -> bool:
        return compile_filter(f"{a} {op} {b}")(record)

    lt, le, gt, ge, eq = holds("<"), holds("<="), holds(">"), holds(">="), holds("=")
    assert not lt or le
    assert not gt or ge
    assert not (lt and ge) and not (gt and le)
    assert not (le and ge) or eq
    assert not ((lt or gt) and eq)


@SETTINGS
@given(
    value=st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**6), max_value=10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False, places=3),
        st.text(max_size=8),
        st.dates(),
    ),
    record=records,
    op=st.sampled_from([*BINARY, "in", "not in", *UNARY]),
)
def test_structured_and_text_forms_agree(value: Any, record: dict[str, Any], op: str) -> None:
    if op in UNARY:
        spec: dict[str, Any] = {"property": "a.b", "operator": op}
    elif op in ("in", "not in"):
        spec = {"property": "a.b", "operator": op, "values": [value, "x"]}
    else:
        spec = {"property": "a.b", "operator": op, "value": value}
    structured = compile_filter(spec)
    record = {**record, "a": {"b": value}}
    assert structured(record) is compile_filter({"all": [spec, "true"]})(record)
    if op in ("=", "is", "in") and not (
        isinstance(value, float | decimal.Decimal) and value != value
    ):
        assert structured(record) is True
