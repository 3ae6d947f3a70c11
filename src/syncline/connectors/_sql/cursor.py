"""The keyset cursor: the last (updated_at, key) read, stable across processes.

A cursor is compact JSON. It carries the raw database values of the last row
(so the next page compares like with like, whatever the column types), the
phase of the read, and a fingerprint of the relation and columns it was made
for, so a cursor is never applied to another table or query by mistake.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from syncline.sdk.errors import ConfigError

__all__ = ["Cursor", "Phase", "fingerprint"]

Phase = Literal["key", "null", "value"]
"""``key``: no updated_at column, keyset on the key alone; ``null``: rows whose
updated_at is NULL, by key (full reads only); ``value``: rows by (updated_at, key)."""

_PHASES = ("key", "null", "value")


def fingerprint(*parts: str | None) -> str:
    """A short digest identifying what a cursor belongs to."""
    text = "\x1f".join("" if p is None else p for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _tag(value: Any) -> Any:
    # JSON keeps str, int, float and None exactly (orjson writes the shortest
    # round-tripping float); every other type is tagged so it decodes to itself.
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, dt.time):
        return {"t": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"n": str(value)}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, bytes):
        return {"b": base64.b64encode(value).decode()}
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"a {type(value).__name__} key or updated_at value cannot go in a cursor")


def _untag(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((tag, text),) = value.items()
    if tag == "dt":
        return dt.datetime.fromisoformat(text)
    if tag == "d":
        return dt.date.fromisoformat(text)
    if tag == "t":
        return dt.time.fromisoformat(text)
    if tag == "n":
        return decimal.Decimal(text)
    if tag == "u":
        return uuid.UUID(text)
    if tag == "b":
        return base64.b64decode(text)
    raise ValueError(f"unknown cursor tag {tag!r}")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a read stands: ``phase``, and the last row's ``updated_at`` and ``key``.

    ``started`` is False for a phase not begun yet (no row of it read), in
    which case ``updated_at`` and ``key`` are None.
    """

    source: str
    phase: Phase
    started: bool = False
    updated_at: Any = None
    key: Any = None

    def encode(self) -> str:
        data: dict[str, Any] = {"s": self.source, "p": self.phase}
        if self.started:
            data["u"] = _tag(self.updated_at)
            data["k"] = _tag(self.key)
        return orjson.dumps(data).decode()

    @classmethod
    def decode(cls, text: str, source: str) -> Cursor:
        """Parse ``text``; ConfigError when it is damaged or belongs to another source."""
        try:
            data = orjson.loads(text)
            phase = data["p"]
            if phase not in _PHASES:
                raise ValueError(phase)
            cursor = cls(
                source=data["s"],
                phase=phase,
                started="k" in data,
                updated_at=_untag(data.get("u")),
                key=_untag(data.get("k")),
            )
        except (ValueError, KeyError, TypeError, AttributeError, orjson.JSONDecodeError):
            raise ConfigError(
                "the read's cursor is damaged; restart the import from the beginning"
            ) from None
        if cursor.source != source:
            raise ConfigError(
                "the read's cursor was made for another table, query, key or updated_at "
                "column (the pipeline options changed during the run); restart the import "
                "from the beginning"
            )
        return cursor
