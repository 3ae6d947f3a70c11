"""Reading HubSpot objects: full reads by the list API, incremental ones by the search API.

Full read (``updated_at`` is None): ``GET /crm/v3/objects/{object}`` pages of
100, following ``paging.next.after``. Archived objects are not returned, so a
full read is exactly the set of live objects (what a purge compares with).

Incremental read: ``POST /crm/v3/objects/{object}/search`` on the object's
last-modified property (``lastmodifieddate`` for contacts,
``hs_lastmodifieddate`` for companies and deals), ascending, 200 per page.
HubSpot answers an error once ``after`` reaches 10,000 results, and paging by
offset over a sort key that moves (a record changed during the read jumps to
the end) would skip a record. So the read never pages by offset: every
request is a new window that starts at the last modification time read
(``GTE``), and records at that instant come again (duplicates are allowed).
When a whole page shares one instant, the window is that instant alone
(``EQ``), walked by ``hs_object_id`` ascending, then the read goes on just
after it. Every request therefore starts at result 0, far from the ceiling.

Cursors are plain strings, valid in any process:

* ``list:<after>`` — the list API's ``after`` token;
* ``since:<ms>`` — records modified at or after ``ms`` (Unix milliseconds);
* ``tie:<ms>:<id>`` — records modified exactly at ``ms`` with an ID above ``id``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from syncline.sdk.errors import PermanentError
from syncline.sdk.records import Record
from syncline.types import Kind, Object

__all__ = [
    "LIST_LIMIT",
    "SEARCH_LIMIT",
    "millis",
    "next_search_cursor",
    "parse_cursor",
    "parse_time",
    "search_body",
    "to_records",
]

LIST_LIMIT = 100
"""Objects per list request (HubSpot's maximum)."""
SEARCH_LIMIT = 200
"""Objects per search request (HubSpot's maximum)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def millis(value: datetime) -> int:
    """``value`` as Unix milliseconds, rounded down (UTC when naive)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(milliseconds=1)


def parse_time(value: Any) -> datetime | None:
    """A HubSpot time: ISO 8601 (``…Z``) or Unix milliseconds as text; None if absent."""
    if value is None or value == "":
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_cursor(cursor: str, target: str) -> tuple[str, list[str]]:
    """Split a cursor into its kind and parts; ``PermanentError`` if it is not ours."""
    kind, _, rest = cursor.partition(":")
    parts = rest.split(":") if rest else []
    valid = (
        (kind == "list" and len(parts) == 1 and parts[0] != "")
        or (kind == "since" and len(parts) == 1 and parts[0].isdigit())
        or (kind == "tie" and len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit())
    )
    if not valid:
        raise PermanentError(
            f"the {target} read cursor is not one this connector wrote; run a full import "
            "to start the read over"
        )
    return kind, parts


def search_body(
    modified: str, names: list[str], since: int, tie_after: int | None
) -> dict[str, Any]:
    """The search request of a window: ``GTE since``, or ``EQ since`` and ``id > tie_after``."""
    if tie_after is None:
        filters = [{"propertyName": modified, "operator": "GTE", "value": str(since)}]
        sort = modified
    else:
        filters = [
            {"propertyName": modified, "operator": "EQ", "value": str(since)},
            {"propertyName": "hs_object_id", "operator": "GT", "value": str(tie_after)},
        ]
        sort = "hs_object_id"
    return {
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
        "properties": names,
        "limit": SEARCH_LIMIT,
    }


def next_search_cursor(
    page: list[dict[str, Any]], more: bool, modified: str, since: int, tie_after: int | None
) -> tuple[str | None, bool]:
    """The cursor after a search page and whether the read is done."""
    if tie_after is not None:
        if more and page:
            return f"tie:{since}:{int(page[-1]['id'])}", False
        return f"since:{since + 1}", False
    if not more or not page:
        return None, True
    last = _modified_ms(page[-1], modified)
    if last > since:
        return f"since:{last}", False
    return f"tie:{since}:0", False


def _modified_ms(item: dict[str, Any], modified: str) -> int:
    stamp = parse_time((item.get("properties") or {}).get(modified)) or parse_time(
        item.get("updatedAt")
    )
    if stamp is None:
        raise PermanentError(f"HubSpot returned an object without {modified}")
    return millis(stamp)


def _converter(kind: Kind) -> Callable[[Any], Any] | None:
    """How a value HubSpot sends (always text) becomes what the schema accepts."""
    if kind is Kind.ARRAY:
        return lambda v: None if v in (None, "") else [p for p in str(v).split(";") if p]
    if kind is Kind.DATETIME:
        return parse_time
    if kind is Kind.DATE:
        return _parse_date
    return None


def _parse_date(value: Any) -> date | str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if text.isdigit():  # midnight UTC in milliseconds
        return datetime.fromtimestamp(int(text) / 1000, UTC).date()
    return text[:10]


def to_records(items: list[dict[str, Any]], schema: Object) -> list[Record]:
    """Records of HubSpot objects, with the schema's properties and HubSpot's ``updatedAt``.

    An object whose change time or a time property cannot be read becomes a
    record with ``error`` set (a per-record error; the read goes on).
    """
    fields = [(p.name, _converter(p.type.kind)) for p in schema.properties]
    out: list[Record] = []
    for item in items:
        record_id = str(item["id"])
        values = item.get("properties") or {}
        try:
            attributes = {
                name: convert(values[name])
                if convert is not None and values.get(name) is not None
                else values.get(name)
                for name, convert in fields
            }
            updated = parse_time(item.get("updatedAt"))
        except ValueError:
            updated = None
        if updated is None:
            error = PermanentError("HubSpot returned an object with an unreadable date or time")
            out.append(Record(record_id, {}, None, error))
            continue
        out.append(Record(record_id, attributes, updated))
    return out
