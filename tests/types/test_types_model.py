"""Type constructors, properties, objects, role projection and time layouts."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest

from syncline import types as t


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: t.String(max_length=0), ValueError, "String: max_length must be >= 1, got 0"),
        (lambda: t.String(max_bytes=True), TypeError, "String: max_bytes must be an int or None"),
        (lambda: t.String(values="ab"), TypeError, "String: values must be a sequence of strings"),
        (lambda: t.String(values=["a", 1]), TypeError, "String: values must be strings, got int"),
        (lambda: t.String(values=["a", "a"]), ValueError, "String: values contain duplicates"),
        (lambda: t.String(values=[]), ValueError, "String: values must not be empty"),
        (lambda: t.String(max_length=2, values=["abc"]), ValueError, "longer than max_length"),
        (lambda: t.String(max_bytes=2, values=["é€"]), ValueError, "longer than max_bytes"),
        (lambda: t.String(pattern="("), ValueError, "String: pattern is not a valid regular"),
        (lambda: t.String(values=["a"], pattern="a"), ValueError, "cannot be used together"),
        (lambda: t.Int(bits=12), ValueError, "Int: bits must be one of (8, 16, 24, 32, 64)"),
        (lambda: t.Int(bits=8, min=-129), ValueError, "Int: min -129 is outside the range"),
        (lambda: t.Int(bits=8, unsigned=True, max=256), ValueError, "Int: max 256 is outside"),
        (lambda: t.Int(min=3, max=2), ValueError, "Int: min 3 is greater than max 2"),
        (lambda: t.Int(min=1.0), TypeError, "Int: min must be an int or None, got float"),
        (lambda: t.Float(bits=16), ValueError, "Float: bits must be one of (32, 64)"),
        (lambda: t.Float(min=float("nan")), ValueError, "Float: min must be finite"),
        (lambda: t.Float(bits=32, max=1e39), ValueError, "outside the range of a 32-bit float"),
        (lambda: t.Float(min=2, max=1), ValueError, "Float: min 2.0 is greater than max 1.0"),
        (lambda: t.Decimal(0, 0), ValueError, "Decimal: precision must be an int in 1..76"),
        (lambda: t.Decimal(77, 0), ValueError, "Decimal: precision must be an int in 1..76"),
        (lambda: t.Decimal(76, 38), ValueError, "Decimal: scale must be an int in 0..37"),
        (lambda: t.Decimal(3, 4), ValueError, "Decimal: scale 4 is greater than precision 3"),
        (lambda: t.Decimal(3, 1, min="1.25"), ValueError, "min has more fractional digits"),
        (lambda: t.Decimal(3, 1, max=100), ValueError, "max has more digits than precision 3"),
        (lambda: t.Decimal(3, 1, min="inf"), ValueError, "Decimal: min must be finite"),
        (lambda: t.Decimal(3, 1, min=1.5), TypeError, "Decimal: min must be a decimal.Decimal"),
        (lambda: t.Array("int"), TypeError, "Array: element must be a Type, got str"),
        (lambda: t.Array(t.Int(), min_elements=3, max_elements=2), ValueError, "greater than"),
        (lambda: t.Array(t.JSON(), unique=True), ValueError, "unique is not allowed"),
        (lambda: t.Map(int), TypeError, "Map: element must be a Type"),
        (lambda: t.Property("1st", t.Int()), ValueError, "Property: invalid name '1st'"),
        (lambda: t.Property("a-b", t.Int()), ValueError, "must match [A-Za-z_][A-Za-z0-9_]*"),
        (lambda: t.Property("", t.Int()), ValueError, "Property: invalid name ''"),
        (lambda: t.Property("a", "int"), TypeError, "Property 'a': type must be a Type"),
        (lambda: t.Property("a", t.Int(), nullable=1), TypeError, "nullable must be a bool"),
        (lambda: t.Object([t.Property("a", t.Int()), "b"]), TypeError, "properties[1] must be"),
        (
            lambda: t.Object([t.Property(n, t.Int()) for n in ("a", "b", "a", "c", "b")]),
            ValueError,
            "Object: duplicate property names: 'a', 'b'",
        ),
    ],
)
def test_constructors_reject_bad_arguments_clearly(
    build: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        build()
    assert message in str(info.value), str(info.value)


def test_types_are_immutable_values() -> None:
    a = t.String(max_length=3, values=["a", "b"])
    assert a == t.String(max_length=3, values=("a", "b"))
    assert hash(a) == hash(t.String(max_length=3, values=["a", "b"]))
    assert a != t.String(max_length=4, values=["a", "b"])
    assert t.Int() != t.Float()
    assert t.Float(min=0) == t.Float(min=0.0)
    assert t.Decimal(5, 2, min=1) == t.Decimal(5, 2, min=decimal.Decimal("1.00"))
    with pytest.raises(AttributeError):
        a.max_length = 5  # type: ignore[misc]
    assert {t.Kind(k.value) for k in t.Kind} == set(t.Kind)
    assert t.Int(bits=24, unsigned=True).bounds() == (0, 2**24 - 1)
    assert t.Int(bits=8, min=-3).bounds() == (-3, 127)


ADDRESS = t.Object(
    [
        t.Property("street", t.String()),
        t.Property("city", t.String(max_length=40), read_optional=True),
    ]
)
PERSON = t.Object(
    [
        t.Property("email", t.String(), create_required=True, update_required=True),
        t.Property("address", ADDRESS, nullable=True),
        t.Property(
            "visits",
            t.Array(
                t.Object([t.Property("at", t.DateTime(), create_required=True, read_optional=True)])
            ),
        ),
        t.Property("age", t.Int(), read_optional=True),
    ]
)


def test_object_lookups() -> None:
    assert PERSON.names() == ["email", "address", "visits", "age"]
    assert PERSON.property("age").type == t.Int()
    assert PERSON.get("nope") is None
    assert PERSON.by_path("address.city").type == t.String(max_length=40)
    with pytest.raises(KeyError, match=r"no property 'address\.zip'"):
        PERSON.by_path("address.zip")
    with pytest.raises(KeyError, match="property 'age' is not an object"):
        PERSON.by_path("age.x")
    with pytest.raises(KeyError, match="no property 'x'"):
        PERSON.property("x")
    assert [path for path, _ in PERSON.walk()] == [
        "email",
        "address",
        "address.street",
        "address.city",
        "visits",
        "age",
    ]


def test_select_prunes_to_paths() -> None:
    pruned = PERSON.select(["age", "address.city"])
    assert pruned.names() == ["address", "age"]
    assert pruned.by_path("address").type == t.Object([ADDRESS.property("city")])
    assert PERSON.select(["address"]).property("address").type == ADDRESS
    with pytest.raises(KeyError):
        PERSON.select(["address.zip"])


def test_as_role_clears_flags_that_do_not_apply_at_every_depth() -> None:
    source = t.as_role(PERSON, t.Role.SOURCE)
    flags = [(p.create_required, p.update_required, p.read_optional) for _, p in source.walk()]
    assert all(not create and not update for create, update, _ in flags)
    assert source.by_path("address.city").read_optional
    assert source.property("age").read_optional
    visit = source.property("visits").type
    assert isinstance(visit, t.Array) and isinstance(visit.element, t.Object)
    assert visit.element.property("at").read_optional
    assert not visit.element.property("at").create_required

    destination = t.as_role(PERSON, t.Role.DESTINATION)
    assert destination.property("email").create_required
    assert destination.property("email").update_required
    assert not any(p.read_optional for _, p in destination.walk())
    visit = destination.property("visits").type
    assert isinstance(visit, t.Array) and isinstance(visit.element, t.Object)
    assert visit.element.property("at").create_required
    assert not visit.element.property("at").read_optional
    assert t.as_role(PERSON, "source") == source
    with pytest.raises(TypeError):
        t.as_role(t.Int(), t.Role.SOURCE)  # type: ignore[arg-type]


def test_time_layouts_validate_and_format() -> None:
    with pytest.raises(ValueError, match="has no strftime directive"):
        t.TimeLayouts(datetime="yyyy-mm-dd")
    with pytest.raises(ValueError, match="has no strftime directive"):
        t.TimeLayouts(date="unix")
    with pytest.raises(TypeError):
        t.TimeLayouts(time=5)  # type: ignore[arg-type]
    moment = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert t.TimeLayouts().format_datetime(moment) == "2024-05-06T05:08:09.123456Z"
    assert t.TimeLayouts(datetime="unix").format_datetime(moment) == 1714972089
    assert t.TimeLayouts(datetime="unixmilli").format_datetime(moment) == 1714972089123
    assert t.TimeLayouts(datetime="unixmicro").format_datetime(moment) == 1714972089123456
    assert t.TimeLayouts(datetime="unixnano").format_datetime(moment) == 1714972089123456000
    assert (
        t.TimeLayouts(datetime="unix").format_datetime(
            dt.datetime(1969, 12, 31, 23, 59, 59, 500000)
        )
        == -1
    )
    layouts = t.TimeLayouts(datetime="%Y-%m-%d %H:%M:%S", date="%d/%m/%Y", time="%H.%M")
    assert layouts.format_datetime(moment) == "2024-05-06 05:08:09"
    assert layouts.format_date(dt.date(2024, 5, 6)) == "06/05/2024"
    assert layouts.format_time(dt.time(7, 8)) == "07.08"
    assert t.TimeLayouts().format_date(dt.date(2024, 5, 6)) == "2024-05-06"
    assert t.TimeLayouts().format_time(dt.time(7, 8, 9)) == "07:08:09"
