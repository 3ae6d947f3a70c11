"""RecordsPage.from_json and JsonRecords: the generic reading, and the native one matching it.

The native reading (one msgspec pass that decodes and validates) must give,
for every page it accepts, exactly what the generic reading followed by the
compiled validator gives: same IDs, same change times, same values of the
same types in the same key order. Every page it does not accept is read
generically. The Hypothesis test below draws schemas, shapes and items —
valid and invalid — and checks both.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from syncline import types as t
from syncline.sdk import JsonRecords, PermanentError, Record, RecordsPage
from syncline.sdk.json_records import DecodedPage, JsonPage, decode

UTC = dt.UTC

SCHEMA = t.Object(
    [
        t.Property("email", t.String(max_length=50)),
        t.Property("score", t.Int(bits=32)),
        t.Property("revenue", t.Float()),
        t.Property("active", t.Boolean()),
        t.Property("seen", t.DateTime()),
        t.Property("note", t.String(), nullable=True),
    ]
)
NESTED = JsonRecords(
    items="data", id="id", attributes="properties", updated_at="updated_at", next="next"
)


def _item(i: int, **changes: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "email": f"u{i}@example.com",
        "score": i,
        "revenue": i + 0.5,
        "active": i % 2 == 0,
        "seen": "2025-03-01T10:00:00Z",
        "note": None,
    }
    properties.update(changes)
    return {"id": f"u{i}", "updated_at": "2025-03-02T00:00:00+00:00", "properties": properties}


def _body(items: list[Any], next_: Any = None) -> bytes:
    return orjson.dumps({"data": items, "next": next_, "total": 99})


def _page(body: bytes, shape: JsonRecords = NESTED, **kw: Any) -> JsonPage:
    page = RecordsPage.from_json(body, shape, **kw).json
    assert page is not None
    return page


def _typed(values: dict[str, Any]) -> list[tuple[str, type, Any]]:
    """Values with their types and order: 1 == 1.0 == True must not pass for equal."""
    return [(k, type(v), v) for k, v in values.items()]


def _view(records: list[Record]) -> list[tuple[Any, ...]]:
    """Records as comparable values (errors compare by identity, so by type and text)."""
    return [
        (r.id, _typed(r.attributes), r.updated_at, type(r.error), str(r.error)) for r in records
    ]


# -- the native reading -----------------------------------------------------------


def test_a_valid_page_is_validated_natively_with_the_validators_values() -> None:
    body = _body([_item(i) for i in range(3)], next_="p2")
    native = decode(_page(body), SCHEMA)
    assert native.validated
    assert (native.cursor, native.done) == ("p2", False)
    generic = decode(_page(body))
    validate = t.compile(SCHEMA, operation="read")
    for mine, plain in zip(native.records, generic.records, strict=True):
        assert mine.id == plain.id and mine.error is None
        assert mine.updated_at == plain.updated_at == dt.datetime(2025, 3, 2, tzinfo=UTC)
        assert _typed(mine.attributes) == _typed(validate(plain.attributes))
    assert native.records[1].attributes["seen"] == dt.datetime(2025, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"score": "7"}, "a numeric string: the validator converts it"),
        ({"score": 7.0}, "an integral float for an Int"),
        ({"email": "x" * 51}, "longer than max_length"),
        ({"seen": "not a time"}, "garbage"),
        ({"seen": "2025-03-01t10:00:00z"}, "lower-case separators fromisoformat refuses"),
        ({"seen": ""}, "empty means null (not nullable: invalid)"),
        ({"active": 1}, "a number for a boolean"),
        ({"note": 5}, "a number for a string"),
    ],
)
def test_an_item_the_native_types_refuse_sends_the_page_to_the_generic_reading(
    change: dict[str, Any], why: str
) -> None:
    body = _body([_item(1), _item(2, **change), _item(3)])
    native = decode(_page(body), SCHEMA)
    generic = decode(_page(body), SCHEMA, native=False)
    assert not native.validated, why
    assert _view(native.records) == _view(generic.records)
    assert native.records[1].attributes == {**_item(2)["properties"], **change}


def test_values_the_schema_has_no_property_for_are_ignored_or_refused() -> None:
    body = _body([_item(1), _item(2, extra="x")])
    ignoring = decode(_page(body), SCHEMA)
    assert ignoring.validated and "extra" not in ignoring.records[1].attributes
    plain = decode(_page(body), SCHEMA, native=False).records[1].attributes
    assert "extra" not in plain  # the generic reading drops it too
    assert "extra" in decode(_page(body)).records[1].attributes  # no schema: kept
    refusing = JsonRecords(**{**_fields(NESTED), "unknown": "refuse"})
    refused = decode(_page(body, refusing), SCHEMA)
    assert not refused.validated and refused.records[1].attributes["extra"] == "x"
    with pytest.raises(t.ValidationError, match="extra"):
        t.compile(SCHEMA, operation="read")(refused.records[1].attributes)


def _fields(shape: JsonRecords) -> dict[str, Any]:
    return {name: getattr(shape, name) for name in JsonRecords.__slots__}


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        ("2025-03-01T10:00:00+02:00", dt.datetime(2025, 3, 1, 8, tzinfo=UTC)),
        ("2025-03-01 10:00:00", dt.datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01T10:00:00.1234567Z", dt.datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_date_times_are_read_natively_as_the_validator_reads_them(
    seen: str, expected: dt.datetime
) -> None:
    # Other offsets become UTC, naive means UTC, a seventh fraction digit is
    # cut (msgspec's own parser would round it: the text is parsed here as
    # the validator parses it).
    body = _body([_item(1, seen=seen)])
    native = decode(_page(body), SCHEMA)
    assert native.validated
    assert native.records[0].attributes["seen"] == expected
    validate = t.compile(SCHEMA, operation="read")
    assert validate(decode(_page(body)).records[0].attributes)["seen"] == expected


@pytest.mark.parametrize(
    ("kind", "value", "native"),
    [
        (t.Int(bits=8), 127, True),
        (t.Int(bits=8), 128, False),
        (t.Int(bits=8), -129, False),
        (t.Int(min=0, max=9), 10, False),
        (t.Int(bits=64, unsigned=True), 2**63 - 1, True),
        (t.Int(bits=64, unsigned=True), 2**63, False),  # valid, but past msgspec's bounds
        (t.Int(bits=64, unsigned=True), -1, False),
        (t.Float(bits=32), 3.4e38, True),
        (t.Float(bits=32), 3.41e38, False),
        (t.Float(min=0.0), -0.5, False),
        (t.Float(), 7, True),
        (t.Float(), 2**70, True),
        (t.String(max_length=3), "abc", True),
        (t.String(max_length=3), "abcd", False),
        (t.Boolean(), 1, False),
    ],
)
def test_each_bound_is_decided_natively_as_the_validator_decides(
    kind: t.Type, value: Any, native: bool
) -> None:
    schema = t.Object([t.Property("v", kind)])
    body = json.dumps({"data": [{"id": "a", "properties": {"v": value}}]}).encode()
    decoded = decode(_page(body, JsonRecords(attributes="properties"), done=True), schema)
    assert decoded.validated is native
    plain = decode(_page(body, JsonRecords(attributes="properties"), done=True)).records[0]
    validate = t.compile(schema, operation="read")
    if native:
        assert _typed(decoded.records[0].attributes) == _typed(validate(plain.attributes))
    else:
        assert _view(decoded.records) == _view([plain])


def test_schemas_and_layouts_without_a_native_reading_are_read_generically() -> None:
    body = _body([_item(1)])
    with_pattern = t.Object([*SCHEMA.properties[:-1], t.Property("note", t.String(pattern="a+"))])
    assert not decode(_page(body), with_pattern).validated
    unix = t.TimeLayouts(datetime="unix")
    assert not decode(_page(body), SCHEMA, unix).validated
    assert decode(_page(body), SCHEMA, t.TimeLayouts()).validated


def test_flat_items_lose_their_id_and_updated_at_members() -> None:
    shape = JsonRecords(items="results", updated_at="modified")
    schema = t.Object([t.Property("name", t.String()), t.Property("n", t.Int())])
    body = orjson.dumps(
        {"results": [{"id": 7, "name": "a", "n": 1, "modified": "2025-01-01T00:00:00Z"}]}
    )
    for decoded in (
        decode(_page(body, shape, done=True), schema),
        decode(_page(body, shape, done=True)),
    ):
        [record] = decoded.records
        assert record.id == "7"
        assert record.attributes == {"name": "a", "n": 1}
        assert record.updated_at == dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert decode(_page(body, shape, done=True), schema).validated


# -- the generic reading ------------------------------------------------------------


def test_ids_are_strings_or_decimal_integers_and_anything_else_is_no_id() -> None:
    items = [{"id": v, "properties": {}} for v in ("a", 12, True, None, 1.5, [1])]
    items.append({"properties": {}})
    records = decode(_page(_body(items))).records
    assert [r.id for r in records] == ["a", "12", "", "", "", "", ""]


def test_a_bad_item_or_updated_at_is_a_record_error_without_its_value() -> None:
    body = _body(
        [
            "secret@example.com",
            {"id": "x", "updated_at": "secret-time", "properties": {}},
            {"id": "y", "updated_at": None, "properties": ["secret"]},
        ]
    )
    first, second, third = decode(_page(body)).records
    assert first.id == "" and isinstance(first.error, PermanentError)
    assert "item 0 is a string, not a JSON object" in str(first.error)
    assert second.id == "x" and "not an ISO 8601 date-time" in str(second.error)
    assert third.id == "y" and "is an array, not an object" in str(third.error)
    for record in (first, second, third):
        assert "secret" not in str(record.error)


@pytest.mark.parametrize(
    ("next_", "expected"),
    [("c2", ("c2", False)), (3, ("3", False)), (None, (None, True)), ("", (None, True))],
)
def test_the_next_cursor_comes_from_the_body(next_: Any, expected: tuple[Any, bool]) -> None:
    body = _body([_item(1)], next_=next_)
    for decoded in (decode(_page(body), SCHEMA), decode(_page(body))):
        assert (decoded.cursor, decoded.done) == expected


def test_a_nested_next_path_may_be_null_or_absent_on_the_way() -> None:
    shape = JsonRecords(items="results", attributes="properties", next="paging.next.after")
    schema = t.Object([t.Property("n", t.Int())])
    item = {"id": "1", "properties": {"n": 1}}
    cases = [
        ({"results": [item], "paging": {"next": {"after": "50"}}}, ("50", False)),
        ({"results": [item], "paging": {"next": None}}, (None, True)),
        ({"results": [item]}, (None, True)),
    ]
    for body, expected in cases:
        raw = orjson.dumps(body)
        for decoded in (decode(_page(raw, shape), schema), decode(_page(raw, shape))):
            assert (decoded.cursor, decoded.done) == expected
            assert decoded.records == [Record("1", {"n": 1})]


def test_a_body_of_another_shape_fails_the_page_naming_the_path() -> None:
    for body, message in [
        (b"<html>busy</html>", "the response body is not JSON"),
        (orjson.dumps({"items": []}), "no array of items at 'data'"),
        (orjson.dumps({"data": {"0": 1}}), "no array of items at 'data'"),
        (_body([_item(1)], next_={"after": 1}), "cursor at 'next' is an object"),
    ]:
        for schema in (SCHEMA, None):
            with pytest.raises(PermanentError, match=message):
                decode(_page(body), schema)


def test_a_body_that_is_the_array_takes_the_cursor_from_the_connector() -> None:
    shape = JsonRecords(items="", attributes="properties")
    raw = orjson.dumps([_item(1)])
    decoded = decode(_page(raw, shape, cursor="c", done=False), SCHEMA)
    assert (decoded.cursor, decoded.done, decoded.validated) == ("c", False, True)
    page = RecordsPage.from_json(raw, shape, done=True)
    assert page.done is True and page.cursor is None and page.records[0].id == "u1"


def test_ids_and_cursors_past_64_bits_are_what_the_generic_reading_makes_of_them() -> None:
    # orjson reads an integer past 64 bits as a float: no ID, and no cursor.
    body = json.dumps({"data": [{"id": 2**70, "properties": _item(1)["properties"]}]}).encode()
    decoded = decode(_page(body, JsonRecords(attributes="properties"), done=True), SCHEMA)
    assert not decoded.validated and decoded.records[0].id == ""
    body = json.dumps({"data": [_item(1)], "next": 2**70}).encode()
    with pytest.raises(PermanentError, match="not a string or an integer"):
        decode(_page(body), SCHEMA)


def test_skipped_members_are_not_checked_by_the_native_reading() -> None:
    # The one difference from the generic reading (see the module doc).
    body = _body([_item(1)]).replace(b'"total":99', b'"total":1e400')
    assert decode(_page(body), SCHEMA).validated
    with pytest.raises(PermanentError, match="not JSON"):
        decode(_page(body), SCHEMA, native=False)


# -- RecordsPage and JsonRecords --------------------------------------------------------


def test_records_page_from_json_decodes_on_first_access_and_compares_by_value() -> None:
    page = RecordsPage.from_json(_body([_item(1)], next_="n"), NESTED)
    assert "bytes" in repr(page)
    assert page.cursor == "n" and page.done is False
    assert page == RecordsPage(page.records, "n", False)
    with pytest.raises(AttributeError, match="immutable"):
        page.done = True  # type: ignore[misc]
    plain = RecordsPage([], None, True)
    assert plain.json is None and plain.records == [] and plain.done


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: RecordsPage.from_json(b"{}", JsonRecords()), "pass done"),
        (lambda: RecordsPage.from_json(b"{}", NESTED, cursor="x"), "do not pass cursor"),
        (lambda: RecordsPage.from_json("{}", NESTED), "must be the response's bytes"),  # type: ignore[arg-type]
        (lambda: RecordsPage.from_json(b"{}", {"items": "data"}), "must be a JsonRecords"),  # type: ignore[arg-type]
        (lambda: JsonRecords(id="a.b"), "id must be a member name"),
        (lambda: JsonRecords(items="a..b"), "empty member name"),
        (lambda: JsonRecords(items="page.data", next="page"), "overlap"),
        (lambda: JsonRecords(items="", next="next"), "body that is an array"),
        (lambda: JsonRecords(attributes="id"), "another member"),
    ],
)
def test_misuse_is_refused_with_what_to_do(call: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# -- the native reading matches the generic one, drawn ----------------------------------

_TIMES = [
    "2025-01-02T03:04:05Z",
    "2025-01-02T03:04:05+00:00",
    "2025-01-02T03:04:05.5Z",
    "2025-01-02T03:04:05.123456Z",
    "2025-01-02T03:04:05.1234567Z",
    "2025-01-02T03:04:05+05:30",
    "2025-01-02T03:04:05",
    "2025-01-02 03:04:05Z",
    "2025-01-02t03:04:05z",
    "2025-01-02",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "",
    "soon",
]


def _kinds() -> st.SearchStrategy[t.Type]:
    return st.one_of(
        st.builds(t.String, max_length=st.none() | st.integers(1, 8)),
        st.builds(t.String, pattern=st.just("[a-z]*")),
        st.sampled_from(
            [t.Int(), t.Int(bits=8), t.Int(bits=64, unsigned=True), t.Int(min=0, max=9)]
        ),
        st.sampled_from([t.Float(), t.Float(real=True), t.Float(bits=32), t.Float(min=0.0)]),
        st.just(t.Boolean()),
        st.just(t.DateTime()),
    )


def _values() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.text(max_size=10),
        st.integers(-(2**70), 2**70),
        st.sampled_from([0, -1, 127, 128, 2**63 - 1, 2**63, 2**64 - 1, 2**64]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([1.0, 0.5, 3.4e38, 3.5e38, 1e308]),
        st.booleans(),
        st.none(),
        st.sampled_from(_TIMES),
        st.sampled_from(["1", "1.5", "true", "NaN"]),
    )


def _fitting(kind: t.Type) -> st.SearchStrategy[Any]:
    """Values at and just past the edges of what the validator accepts for ``kind``."""
    if isinstance(kind, t.String):
        if kind.pattern is not None:
            return st.from_regex(kind.pattern, fullmatch=True)
        longest = kind.max_length or 10
        return st.text(max_size=longest) | st.text(min_size=longest, max_size=longest + 1)
    if isinstance(kind, t.Int):
        low, high = kind.bounds()
        edges = [low, high, low - 1, high + 1, float(low), 2**63 - 1, 2**63, -(2**63) - 1]
        return st.integers(low, high) | st.sampled_from(edges)
    if isinstance(kind, t.Float):
        low = -3.4e38 if kind.min is None else kind.min
        edges = [low, 3.4028234663852886e38, 3.41e38, 1.7976931348623157e308, 2**1024]
        return st.floats(low, 3.4e38) | st.integers(-(2**65), 2**65) | st.sampled_from(edges)
    if isinstance(kind, t.Boolean):
        return st.booleans()
    return st.sampled_from(_TIMES[:9])


@st.composite
def _cases(draw: st.DrawFn) -> tuple[t.Object, JsonRecords, bytes, Any]:
    names = draw(
        st.lists(
            st.sampled_from(["a", "b", "c", "d", "e", "class"]), min_size=1, max_size=4, unique=True
        )
    )
    props = [
        t.Property(
            name, draw(_kinds()), nullable=draw(st.booleans()), read_optional=draw(st.booleans())
        )
        for name in names
    ]
    schema = t.Object(props)
    flat = draw(st.booleans())
    stamp = draw(st.sampled_from([None, "updated_at"]))
    shape = JsonRecords(
        items="page.items",
        id="id",
        attributes=None if flat else "values",
        updated_at=stamp,
        next=draw(st.sampled_from([None, "page.next", "cursor"])),
        unknown=draw(st.sampled_from(["ignore", "refuse"])),
    )
    items = []
    for _ in range(draw(st.integers(0, 4))):
        attributes: dict[str, Any] = {}
        for prop in props:
            roll = draw(st.integers(0, 29))
            if roll == 0:
                continue  # absent
            attributes[prop.name] = draw(_values() if roll < 3 else _fitting(prop.type))
        if draw(st.integers(0, 9)) == 0:
            attributes["zz"] = 1  # unknown
        item: dict[str, Any] = dict(attributes) if flat else {"values": attributes}
        ids = ["r1", "r2", 5, -3] * 6 + ["", True, None, 2**63, 2**70, 1.5]
        item["id"] = draw(st.sampled_from(ids))
        if stamp is not None and draw(st.integers(0, 4)):
            item[stamp] = draw(st.sampled_from([*_TIMES[:9] * 4, *_TIMES[9:], None, 5]))
        if draw(st.integers(0, 39)) == 0:
            item = draw(st.sampled_from([[], "x", 1]))  # type: ignore[assignment]
        items.append(item)
    next_value = draw(st.sampled_from([None, "", "n2", 7, 1.5, 2**64, 2**70]))
    page = {"items": items, "next": next_value, "other": [1, {"x": 2}]}
    body = {"page": page, "cursor": next_value}
    # The standard library writes integers past 64 bits, which orjson refuses to.
    return schema, shape, json.dumps(body).encode(), next_value


def _outcome(call: Any) -> DecodedPage | str:
    try:
        return call()  # type: ignore[no-any-return]
    except PermanentError as error:
        return str(error)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_the_native_reading_gives_exactly_the_generic_reading_and_the_validator(
    case: tuple[t.Object, JsonRecords, bytes, Any],
) -> None:
    schema, shape, body, _ = case
    kwargs: dict[str, Any] = {} if shape.next else {"cursor": "given", "done": False}
    native = _outcome(lambda: decode(_page(body, shape, **kwargs), schema))
    generic = _outcome(lambda: decode(_page(body, shape, **kwargs), schema, native=False))
    if isinstance(generic, str) or isinstance(native, str):
        assert native == generic
        return
    assert (native.cursor, native.done) == (generic.cursor, generic.done)
    event(f"validated natively: {native.validated}, records: {min(len(native.records), 2)}")
    if not native.validated:
        assert _view(native.records) == _view(generic.records)
        return
    validate = t.compile(schema, operation="read")
    for mine, plain in zip(native.records, generic.records, strict=True):
        assert mine.id == plain.id != ""
        assert mine.error is None and plain.error is None
        assert mine.updated_at == plain.updated_at
        assert type(mine.updated_at) is type(plain.updated_at)
        assert _typed(mine.attributes) == _typed(validate(plain.attributes))
