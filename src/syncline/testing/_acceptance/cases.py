"""The cases a connector's acceptance test supplies, and helpers the checks share."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from syncline.sdk.records import Record
from syncline.sdk.testing.sandbox import Sandbox

__all__ = ["EventCases", "RecordCase", "UpsertCases"]

RecordCase = Mapping[str, Any] | tuple[str, Mapping[str, Any]]


@dataclass
class UpsertCases:
    """Records for the upsert checks of one target.

    * ``creates`` — attributes of records to create (empty ID);
    * ``updates`` — ``(id, attributes)`` of records the sandbox has;
    * ``invalid`` — ``(record, property)`` pairs: a record (attributes, or
      ``(id, attributes)``) that the app rejects — or the connector discards —
      because of ``property``, which the error's text must name.
    """

    creates: list[Mapping[str, Any]]
    updates: list[tuple[str, Mapping[str, Any]]]
    invalid: list[tuple[RecordCase, str]] = field(default_factory=list)


@dataclass
class EventCases:
    """Messages for the event checks (Segment-style dicts, completed as ``events_from`` does).

    * ``send`` — events the app accepts;
    * ``discard`` — events the connector must discard before sending (none of
      their content may reach the app);
    * ``reject`` — events the app rejects after sending (``EventsError``);
    * ``oversized`` — an event that alone does not fit one request (or None);
    * ``type_id`` and ``values`` — the event type and the pipeline's values
      (a mapping, or a function of the received event), as ``events_from`` takes them.
    """

    send: list[Mapping[str, Any]]
    discard: list[Mapping[str, Any]] = field(default_factory=list)
    reject: list[Mapping[str, Any]] = field(default_factory=list)
    oversized: Mapping[str, Any] | None = None
    type_id: str | None = None
    values: Any = None


def with_ids(messages: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The messages with a fixed ID and timestamp each.

    The suite builds the same events more than once (a preview, then a send);
    without this, each build would stamp its own current time and a connector
    that forwards timestamps would send a body that differs from its preview.
    """
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [
        {
            **m,
            "messageId": m.get("messageId") or str(uuid.uuid4()),
            "timestamp": m.get("timestamp") or now,
        }
        for m in messages
    ]


def markers(message: Mapping[str, Any], others: list[dict[str, Any]]) -> list[str]:
    """Strings that identify ``message`` in a request body: its ID and property values unique to it."""
    found = [str(message["messageId"])]
    shared = {v for o in others for v in (o.get("properties") or {}).values() if isinstance(v, str)}
    for value in (message.get("properties") or {}).values():
        if isinstance(value, str) and len(value) >= 6 and value not in shared:
            found.append(value)
    return found


def upsert_call(connector: Any, target: str, schema: Any) -> Callable[[Any], Awaitable[object]]:
    return lambda records: connector.upsert(target, records, schema)


def record(case: RecordCase) -> Record:
    if isinstance(case, tuple):
        return Record(case[0], dict(case[1]))
    return Record("", dict(case))


def count(sandbox: Sandbox, target: str) -> int | None:
    try:
        return len(sandbox.ids(target))
    except LookupError:
        return None


def chain(error: BaseException) -> str:
    parts: list[str] = []
    seen: BaseException | None = error
    while seen is not None and len(parts) < 5:
        parts.append(f"{type(seen).__name__}: {seen}")
        errors = getattr(seen, "errors", None)
        if isinstance(errors, Mapping):
            parts.extend(str(e) for e in errors.values())
        seen = seen.__cause__ or seen.__context__
    return " <- ".join(parts)


def no_misuse(drive: Any, call: str) -> None:
    if drive.misuse is not None:
        pytest.fail(f"{call} misused its iterator: {drive.misuse}")


def one_request_per_call(drive: Any, call: str) -> None:
    over = [n for n in drive.requests_per_call if n > 1]
    assert not over, (
        f"a {call} call sent {max(over)} requests: one call sends at most one request; "
        "leave the rest of the items for the next call"
    )
