"""Batch create and update bodies, and HubSpot's per-input errors mapped back to records.

Each input carries ``objectWriteTraceId`` = its position in the request, which
turns on HubSpot's multi-status answers (207: ``results`` and ``errors``) and
lets every error name its inputs (``context.objectWriteTraceId``, or
``context.ids`` for updates). Messages are fixed per HubSpot error code and
property name — never HubSpot's own text, which echoes the values.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from syncline.sdk.errors import ConnectorError, PermanentError, RetryableError
from syncline.sdk.records import Record

__all__ = ["BATCH_LIMIT", "batch_input", "input_errors"]

BATCH_LIMIT = 100
"""Inputs per batch create or update request (HubSpot's maximum)."""

_BY_CODE = {
    "INVALID_EMAIL": "HubSpot refused the value of property {p!r}: not a valid email address",
    "PROPERTY_DOESNT_EXIST": (
        "HubSpot has no property {p!r}; create it in HubSpot or remove it from the mapping"
    ),
    "READ_ONLY_VALUE": "property {p!r} is read-only in HubSpot; remove it from the mapping",
    "INVALID_OPTION": "HubSpot refused the value of property {p!r}: not one of its options",
    "INVALID_INTEGER": "HubSpot refused the value of property {p!r}: not a number",
    "INVALID_LONG": "HubSpot refused the value of property {p!r}: not a number",
    "INVALID_DATE": "HubSpot refused the value of property {p!r}: not a valid date",
}
_BY_CATEGORY = {
    "CONFLICT": "another HubSpot record already has this unique value (for contacts: the email)",
    "OBJECT_NOT_FOUND": "the HubSpot record to update does not exist (deleted or archived)",
    "OBJECT_ALREADY_EXISTS": "another HubSpot record already has this unique value",
}
_OTHERS_REJECTED = (
    "HubSpot rejected the whole batch because of other records in it; this record is sent again"
)


def _text(value: Any) -> str:
    """A canonical value as HubSpot's property text."""
    if value is None:
        return ""  # HubSpot clears a property set to the empty string
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return str(value.astimezone(UTC).isoformat(timespec="milliseconds")).replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ";".join(_text(v) for v in value)
    return str(value)


def batch_input(record: Record, position: int) -> dict[str, Any]:
    """One input of a batch request; updates carry the record's ID."""
    body: dict[str, Any] = {
        "properties": {name: _text(value) for name, value in record.attributes.items()},
        "objectWriteTraceId": str(position),
    }
    if record.id:
        body["id"] = record.id
    return body


def _message(error: dict[str, Any]) -> str:
    """The fixed message of one HubSpot error object."""
    for detail in error.get("errors") or ():
        code = str(detail.get("code") or "")
        names = (detail.get("context") or {}).get("propertyName") or [""]
        if code in _BY_CODE:
            return _BY_CODE[code].format(p=str(names[0]))
    category = str(error.get("category") or "")
    if category in _BY_CATEGORY:
        return _BY_CATEGORY[category]
    return f"HubSpot rejected the record ({category or 'no category given'})"


def input_errors(body: Any, records: list[Record], status: int) -> dict[int, ConnectorError] | None:
    """Per-record errors of a 207, 400 or 409 answer, by position; None if they cannot be placed.

    ``records`` are the inputs in request order. After a 400 or 409 HubSpot
    wrote nothing, so the inputs without an error of their own get a
    retryable error: they are sent again without the bad ones.
    """
    if not isinstance(body, dict):
        return None
    wrote_nothing = status != 207
    errors = body.get("errors") or []
    if wrote_nothing and not any((e.get("context") or {}) for e in errors):
        errors = [body]  # one error for the request, perhaps naming its inputs
    positions = {record.id: i for i, record in enumerate(records) if record.id}
    failed: dict[int, ConnectorError] = {}
    for error in errors:
        context = error.get("context") or {}
        placed = [int(t) for t in context.get("objectWriteTraceId") or () if str(t).isdigit()]
        placed += [positions[str(i)] for i in context.get("ids") or () if str(i) in positions]
        placed = [i for i in placed if 0 <= i < len(records)]
        if not placed:
            return None
        message = _message(error)
        for i in placed:
            failed[i] = PermanentError(message, status=status)
    if wrote_nothing:
        for i in range(len(records)):
            failed.setdefault(i, RetryableError(_OTHERS_REJECTED))
    return failed
