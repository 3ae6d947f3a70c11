"""Records straight from a JSON response body: :class:`JsonRecords` and :func:`decode`.

Most APIs answer a page of records as one JSON object: an array of items
somewhere in it, each item with an ID, maybe a change time and the record's
values, and often the cursor of the next page. A connector describes that
shape once with :class:`JsonRecords` and returns
``RecordsPage.from_json(response.content, SHAPE)``; it never parses the body
itself.

The engine then decodes the body with the run's schema. When every item of
the page is valid — the common case — it is decoded, type-checked and
normalized in one native pass (see :mod:`syncline.types._native`), which
costs about what parsing the JSON alone costs; the engine does not validate
those records again. When one item is not (a wrong type, an unknown
property, a value out of range, a date-time in another form), the page is
decoded generically and every record goes through the engine's validator as
if the connector had built it by hand: same records, same errors, same
counts. Anyone else reading ``page.records`` (tests, the acceptance suite)
gets the generic records.

The generic reading, which defines the result either way (with one
difference: the native pass skips the members it does not read without
checking them, so a body whose skipped parts are not valid JSON text — bytes
that are not UTF-8, a number beyond a double — is still read natively when the
members it reads are valid, where the generic reading refuses the page):

* ``items`` is the dotted path of the array of items (``""``: the body is the
  array). A body that is not JSON, or has no array there, fails the page
  (:class:`~syncline.sdk.errors.PermanentError`).
* an item that is not an object becomes a record with an error;
* the ID is the item's ``id`` member: a string, or an integer written in
  decimal; anything else (absent, null, a boolean) leaves the ID empty, which
  the engine counts as a record without an ID;
* ``updated_at`` (when named) is an ISO 8601 text (naive means UTC), or null;
  another value makes the record an error;
* the attributes are the object in the item's ``attributes`` member (when
  named; another value makes the record an error), else the item itself
  without its ``id`` and ``updated_at`` members;
* ``next`` (when named) is the dotted path of the next page's cursor: a string
  or an integer is the cursor; null, an empty string or a missing member ends
  the read. Without ``next``, the connector passes ``cursor`` and ``done``.
"""

from __future__ import annotations

import datetime as _dt
import functools
from dataclasses import dataclass
from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec
import orjson

from syncline.sdk.errors import PermanentError
from syncline.sdk.records import Record
from syncline.types import Object, TimeLayouts
from syncline.types._native import (
    NativeAttributes,
    native_attributes,
    read_iso_datetime,
    read_iso_datetimes,
)

__all__ = ["DecodedPage", "JsonPage", "JsonRecords", "decode"]


def _path(value: str, what: str) -> tuple[str, ...]:
    if type(value) is not str:
        raise TypeError(f"JsonRecords: {what} must be a string, got {type(value).__name__}")
    if value == "":
        return ()
    parts = tuple(value.split("."))
    if any(part == "" for part in parts):
        raise ValueError(f"JsonRecords: {what} {value!r} has an empty member name")
    return parts


@dataclass(frozen=True, slots=True)
class JsonRecords:
    """Where the records are in a JSON body (see the module doc for the exact reading).

    * ``items`` — dotted path of the array of items; ``""`` when the body is the array;
    * ``id`` — the member of an item holding its ID;
    * ``attributes`` — the member holding the record's values as an object;
      None when the values are the item's own members (without ``id`` and
      ``updated_at``);
    * ``updated_at`` — the member holding when the record last changed, or None;
    * ``next`` — dotted path of the next page's cursor in the body, or None
      when the connector gives ``cursor`` and ``done`` itself;
    * ``unknown`` — what becomes of a value the schema has no property for:
      ``"ignore"`` (the default) leaves it out, as APIs add fields over time;
      ``"refuse"`` keeps it, so the validator makes the record invalid.

    ``id``, ``attributes`` and ``updated_at`` are member names, not paths.
    """

    items: str = "data"
    id: str = "id"
    attributes: str | None = None
    updated_at: str | None = None
    next: str | None = None
    unknown: Literal["ignore", "refuse"] = "ignore"

    def __post_init__(self) -> None:
        if self.unknown not in ("ignore", "refuse"):
            raise ValueError(
                f"JsonRecords: unknown must be 'ignore' or 'refuse', got {self.unknown!r}"
            )
        items = _path(self.items, "items")
        for what in ("id", "attributes", "updated_at"):
            member = getattr(self, what)
            if member is None and what != "id":
                continue
            if type(member) is not str or member == "" or "." in member:
                raise ValueError(
                    f"JsonRecords: {what} must be a member name (no dots), got {member!r}"
                )
        if self.next is not None:
            following = _path(self.next, "next")
            if not following:
                raise ValueError("JsonRecords: next must name a member, not the whole body")
            if not items:
                raise ValueError(
                    "JsonRecords: a body that is an array has no member for next; give "
                    "the cursor to RecordsPage.from_json instead"
                )
            shorter = min(len(items), len(following))
            if items[:shorter] == following[:shorter]:
                raise ValueError(
                    f"JsonRecords: items {self.items!r} and next {self.next!r} overlap"
                )
        if self.attributes is not None and self.attributes in (self.id, self.updated_at):
            raise ValueError(
                "JsonRecords: attributes must be another member than id and updated_at"
            )
        if self.updated_at is not None and self.updated_at == self.id:
            raise ValueError("JsonRecords: updated_at must be another member than id")


@dataclass(frozen=True, slots=True)
class JsonPage:
    """A page's undecoded body, as ``RecordsPage.from_json`` keeps it for the engine."""

    body: bytes
    shape: JsonRecords
    cursor: str | None
    done: bool | None


@dataclass(slots=True)
class DecodedPage:
    """A decoded page. ``validated``: every record's attributes are already what the
    engine's validator returns for them (decoded natively against the schema)."""

    records: list[Record]
    cursor: str | None
    done: bool
    validated: bool


def decode(
    page: JsonPage,
    schema: Object | None = None,
    layouts: TimeLayouts | None = None,
    *,
    native: bool = True,
) -> DecodedPage:
    """Decode ``page`` for a read of ``schema``: natively when it can, else generically.

    ``native=False`` always reads generically. Without a schema, values the
    schema would not have are kept whatever ``shape.unknown`` says (there is
    nothing to tell them by). Raises
    :class:`~syncline.sdk.errors.PermanentError` when the body is not JSON or
    not of the page's shape (the message names the path).
    """
    if schema is not None and native:
        plan = _plan(page.shape, schema, layouts)
        if plan is not None:
            decoded = plan.decode(page)
            if decoded is not None:
                return decoded
    keep = None
    if schema is not None and page.shape.unknown == "ignore":
        keep = frozenset(schema.names())
    return _generic(page, keep)


# -- the generic reading --------------------------------------------------------


def _generic(page: JsonPage, keep: frozenset[str] | None) -> DecodedPage:
    shape = page.shape
    try:
        body = orjson.loads(page.body)
    except orjson.JSONDecodeError as error:
        raise PermanentError(
            f"the response body is not JSON ({error}); the API answered something else than "
            "a page of records"
        ) from None
    items = body
    for member in _path(shape.items, "items"):
        items = items.get(member) if isinstance(items, dict) else None
        if items is None:
            break
    if not isinstance(items, list):
        where = f"at {shape.items!r}" if shape.items else "as the body"
        raise PermanentError(
            f"the response has no array of items {where}; the API's answer changed shape"
        )
    records = [_record(index, item, shape, keep) for index, item in enumerate(items)]
    if shape.next is None:
        if page.done is None:
            raise PermanentError(
                "RecordsPage.from_json: give done (and cursor), or name next in JsonRecords"
            )
        return DecodedPage(records, page.cursor, page.done, False)
    cursor = _cursor_at(body, shape.next)
    return DecodedPage(records, cursor, cursor is None, False)


def _record(index: int, item: Any, shape: JsonRecords, keep: frozenset[str] | None) -> Record:
    if not isinstance(item, dict):
        return Record(
            "",
            {},
            None,
            PermanentError(f"item {index} is {_kind(item)}, not a JSON object"),
        )
    record_id = _id(item.get(shape.id))
    updated_at: _dt.datetime | None = None
    if shape.updated_at is not None:
        stamp = item.get(shape.updated_at)
        try:
            updated_at = _time(stamp)
        except (ValueError, OverflowError):
            return Record(
                record_id,
                {},
                None,
                PermanentError(
                    f"its {shape.updated_at!r} is {_kind(stamp)}, not an ISO 8601 date-time"
                ),
            )
    if shape.attributes is not None:
        attributes = item.get(shape.attributes)
        if not isinstance(attributes, dict):
            return Record(
                record_id,
                {},
                None,
                PermanentError(f"its {shape.attributes!r} is {_kind(attributes)}, not an object"),
            )
    else:
        attributes = item
        attributes.pop(shape.id, None)
        if shape.updated_at is not None:
            attributes.pop(shape.updated_at, None)
    if keep is not None and not keep.issuperset(attributes):
        attributes = {name: value for name, value in attributes.items() if name in keep}
    return Record(record_id, attributes, updated_at)


def _id(value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    return ""


def _time(value: Any) -> _dt.datetime | None:
    if value is None:
        return None
    if type(value) is not str:
        raise ValueError("not a string")
    return read_iso_datetime(value)


def _cursor_at(body: Any, path: str) -> str | None:
    value = body
    for member in _path(path, "next"):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise PermanentError(
                f"the response's {path!r} cannot be read: a member on the way is "
                f"{_kind(value)}, not an object"
            )
        value = value.get(member)
    if value is None or value == "":
        return None
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    raise PermanentError(
        f"the next page's cursor at {path!r} is {_kind(value)}, not a string or an integer"
    )


_KINDS = {
    type(None): "null (or absent)",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _kind(value: Any) -> str:
    """What a JSON value is, never the value itself (it may be personal data)."""
    return _KINDS.get(type(value), type(value).__name__)


# -- the native reading ---------------------------------------------------------

_INT = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]
"""An ID or a cursor that is a number: past 64 bits orjson (the generic reading)
makes a float of it, which is no ID and no cursor, so the native reading stops
there too and leaves such a page to the generic one."""


class _Plan:
    """The native decoder of one shape and one schema."""

    def __init__(self, shape: JsonRecords, attributes: NativeAttributes) -> None:
        self.shape = shape
        self.attributes = attributes
        flat = shape.attributes is None
        item: type[msgspec.Struct]
        if flat:
            item = attributes.struct
            self._values = None
        else:
            assert shape.attributes is not None
            fields: list[Any] = [
                ("i", str | _INT | msgspec.UnsetType, msgspec.UNSET),
                ("a", attributes.struct),
            ]
            rename = {"i": shape.id, "a": shape.attributes}
            if shape.updated_at is not None:
                fields.append(("u", str | None | msgspec.UnsetType, msgspec.UNSET))
                rename["u"] = shape.updated_at
            # Other members of an item are skipped: only the attributes are strict.
            item = msgspec.defstruct("Item", fields, kw_only=True, rename=rename, gc=False)
            self._values = attrgetter("a")
        # The ID and time fields: "i"/"u" in an item struct, or the flat
        # struct's extra fields x0/x1 (see _plan).
        self._id = attrgetter("i" if not flat else "x0")
        self._stamp = None if shape.updated_at is None else attrgetter("u" if not flat else "x1")
        self._items, self._next, root = _page_type(shape, item)
        self._decoder = msgspec.json.Decoder(root)

    def decode(self, page: JsonPage) -> DecodedPage | None:
        """The page decoded natively, or None when the generic reading must decide."""
        try:
            root = self._decoder.decode(page.body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        items = self._items(root)
        ids = list(map(self._id, items))
        kinds = set(map(type, ids))
        if kinds != {str}:
            if not kinds <= {str, int}:
                return None
            ids = [value if type(value) is str else str(value) for value in ids]
        if "" in ids:
            return None
        stamps: list[_dt.datetime | None]
        if self._stamp is None:
            stamps = [None] * len(items)
        else:
            texts = list(map(self._stamp, items))
            if None in texts or msgspec.UNSET in texts:
                present = [i for i, text in enumerate(texts) if type(text) is str]
                moments = read_iso_datetimes([texts[i] for i in present])
                if moments is None:
                    return None
                stamps = [None] * len(items)
                for i, moment in zip(present, moments, strict=True):
                    stamps[i] = moment
            else:
                read = read_iso_datetimes(texts)
                if read is None:
                    return None
                stamps = list(read)
        values = items if self._values is None else list(map(self._values, items))
        rows = self.attributes.finish(values)
        if rows is None:
            return None
        records = list(map(Record, ids, rows, stamps))
        if self.shape.next is None:
            if page.done is None:
                return None  # the generic reading says what is missing
            return DecodedPage(records, page.cursor, page.done, True)
        cursor = self._next(root)
        if cursor is None or cursor == "":
            return DecodedPage(records, None, True, True)
        return DecodedPage(records, cursor if type(cursor) is str else str(cursor), False, True)


_ITEMS = object()
_CURSOR = object()


def _page_type(shape: JsonRecords, item: type[msgspec.Struct]) -> tuple[Any, Any, Any]:
    """The body's msgspec type, and getters of its items and of its next cursor.

    Only the members on the two paths are declared; the decoder skips every
    other member of the body. The members on the way to the items are
    required (the generic reading fails the page without them); those on the
    way to the cursor may be null or absent (the read is then done).
    """
    items_path = _path(shape.items, "items")
    if not items_path:
        return (lambda root: root), None, list[item]  # type: ignore[valid-type]
    next_path = _path(shape.next, "next") if shape.next is not None else ()
    tree: dict[str, Any] = {}
    for path, leaf in ((items_path, _ITEMS), (next_path, _CURSOR)):
        if not path:
            continue
        node = tree
        for member in path[:-1]:
            node = node.setdefault(member, {})
        node[path[-1]] = leaf
    fields_by_path: dict[tuple[str, ...], str] = {}

    def build(members: dict[str, Any], prefix: tuple[str, ...]) -> Any:
        fields: list[Any] = []
        rename: dict[str, str] = {}
        for index, (name, inner) in enumerate(members.items()):
            field = f"m{index}"
            rename[field] = name
            path = (*prefix, name)
            fields_by_path[path] = field
            if inner is _ITEMS:
                fields.append((field, list[item]))  # type: ignore[valid-type]
            elif inner is _CURSOR:
                fields.append((field, str | _INT | None, None))
            elif items_path[: len(path)] == path:
                fields.append((field, build(inner, path)))
            else:
                fields.append((field, build(inner, path) | None, None))
        return msgspec.defstruct("Body", fields, kw_only=True, rename=rename, gc=False)

    root = build(tree, ())

    def getter(path: tuple[str, ...]) -> Any:
        names = [fields_by_path[path[: depth + 1]] for depth in range(len(path))]

        def get(value: Any) -> Any:
            for name in names:
                if value is None:
                    return None
                value = getattr(value, name)
            return value

        return get

    return getter(items_path), (getter(next_path) if next_path else None), root


_LAST: list[tuple[JsonRecords, Object, TimeLayouts | None, _Plan | None]] = []
"""The plans looked up last, by identity: a read passes the same three objects for
every page, and hashing a large schema per page costs more than the lookup saves."""


def _plan(shape: JsonRecords, schema: Object, layouts: TimeLayouts | None) -> _Plan | None:
    """The native decoder of ``shape`` and ``schema``, or None when the schema has none."""
    for known in tuple(_LAST):
        if known[0] is shape and known[1] is schema and known[2] is layouts:
            return known[3]
    plan = _plan_of(shape, schema, layouts)
    _LAST.insert(0, (shape, schema, layouts, plan))
    del _LAST[8:]
    return plan


@functools.lru_cache(maxsize=64)
def _plan_of(shape: JsonRecords, schema: Object, layouts: TimeLayouts | None) -> _Plan | None:
    extra: list[tuple[str, Any]] = []
    if shape.attributes is None:
        extra.append((shape.id, str | _INT | msgspec.UnsetType))
        if shape.updated_at is not None:
            extra.append((shape.updated_at, str | None | msgspec.UnsetType))
    attributes = native_attributes(schema, layouts, extra, refuse_unknown=shape.unknown == "refuse")
    if attributes is None:
        return None
    return _Plan(shape, attributes)
