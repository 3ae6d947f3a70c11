"""The values the delivery tables take in and hand out, and the router's view of the log.

These are plain data shared by both ways :class:`~syncline.store.deliveries.Deliveries`
writes (SQLAlchemy, and the raw SQLite fast path) and by the delivery engine:
the rows routing creates (:class:`NewDelivery`) and senders load
(:class:`Delivery`), dead letters (:class:`DeadLetter`), one batch's outcome
(:class:`Settlement`, :class:`RetryUpdate`), the counter steps and the dedupe
window, and :class:`LogReader`, the part of the event log the router uses.
They are importable from :mod:`syncline.store.deliveries`, where callers take them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from syncline.store.event_log import LoggedEvent

__all__ = [
    "DEDUPE_WINDOW",
    "STEPS",
    "DeadLetter",
    "Delivery",
    "LogReader",
    "NewDelivery",
    "RetryUpdate",
    "Settlement",
]

DEDUPE_WINDOW = timedelta(hours=24)
"""How long a pipeline remembers a ``messageId`` it accepted."""

STEPS = (
    "received",
    "filtered",
    "duplicate",
    "mapped",
    "invalid",
    "delivered",
    "retried",
    "dead",
    "replayed",
)
"""The counter steps, in pipeline order."""

ROUTER = "router"
"""The ``event_routing`` row that holds the router's watermark."""


# NewDelivery and Delivery are built once per routed event: plain slots
# dataclasses, read-only by convention. A frozen one sets each field through
# object.__setattr__ (measured: 1.9 µs against 0.25 µs for 13 fields).


@dataclass(slots=True)
class NewDelivery:
    """A row to create: an event routed to one pipeline (treat it as read-only).

    ``error`` set means the event failed the pipeline's mapping or validation:
    the row is created dead at once (a dead letter with 0 attempts).
    """

    pipeline_id: int
    connection_id: int
    event_id: int
    message_id: str
    user_key: str
    values: dict[str, Any] | None
    payload: bytes
    received_at: datetime | None
    error: str | None = None
    # The decoded payload when the caller has it (not stored): handed on with
    # the routed row so the sender does not decode the message again.
    message: dict[str, Any] | None = None


@dataclass(slots=True)
class Delivery:
    """A pending row, as a sender loads it (treat it as read-only)."""

    id: int
    pipeline_id: int
    connection_id: int
    event_id: int
    message_id: str
    user_key: str
    attempts: int
    first_attempt_at: datetime | None
    next_attempt_at: datetime | None
    values: dict[str, Any] | None
    payload: bytes
    received_at: datetime | None
    message: dict[str, Any] | None = None
    """The decoded payload, when it came from :meth:`~syncline.store.deliveries.Deliveries.route` (not stored)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead-lettered event: what it was, where it went, why it died."""

    id: int
    pipeline_id: int
    pipeline: str
    connection_id: int
    event_id: int
    message_id: str
    user_key: str
    attempts: int
    error: str | None
    request: str | None
    payload: bytes
    received_at: datetime | None
    created_at: datetime
    first_attempt_at: datetime | None
    dead_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """The dead letter as JSON values (the message is left out: it may hold personal data)."""
        return {
            "id": self.id,
            "pipeline": self.pipeline,
            "event_id": self.event_id,
            "message_id": self.message_id,
            "attempts": self.attempts,
            "error": self.error,
            "request": self.request,
            "received_at": _iso(self.received_at),
            "routed_at": _iso(self.created_at),
            "first_attempt_at": _iso(self.first_attempt_at),
            "dead_at": _iso(self.dead_at),
        }


@dataclass(frozen=True, slots=True)
class RetryUpdate:
    """A row that failed retryably (``dead=False``) or for good (``dead=True``)."""

    id: int
    attempts: int
    first_attempt_at: datetime | None
    next_attempt_at: datetime | None
    error: str
    request: str | None
    dead: bool = False


@dataclass(slots=True)
class Settlement:
    """The outcome of one ``send_events`` call, recorded by :meth:`~syncline.store.deliveries.Deliveries.settle`."""

    delivered: list[int]
    updates: list[RetryUpdate]
    counts: Counter[tuple[int, str]]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class LogReader(Protocol):
    """Reading and pruning the event log, as the router does.

    See :meth:`~syncline.store.deliveries.Deliveries.log_reader`.
    """

    async def read_after(self, after_id: int, limit: int) -> Sequence[LoggedEvent]: ...

    async def delete_through(self, event_id: int) -> int: ...

    async def max_id(self) -> int: ...
