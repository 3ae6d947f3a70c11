"""The "crm" test app: a small contacts API served over real HTTP by ``FaultServer``.

* ``GET /contacts?since=ISO&after=KEY&limit=N`` — contacts with ``updated_at >=
  since`` in ``(updated_at, id)`` order, after the keyset position ``after``;
  answers ``{"data": [...], "next": KEY | null}``.
* ``POST /contacts/batch`` with ``{"records": [{"id"?: ..., "properties": {...}}]}``
  — creates (no ``id``) and updates, answering one result per item, in order:
  ``{"id": ..., "status": "created" | "updated"}`` or ``{"error": CODE}``. Per
  item errors: ``invalid_email`` (no ``@``), ``duplicate_email`` (a create with
  an email another contact has), ``not_found`` (an update of an unknown id).

``updated_at`` is strictly increasing (microseconds) across the app, as a
real app's change log is, so incremental reads are exact.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from syncline.sdk.testing.server import FaultServer, ReceivedRequest

__all__ = ["CrmApp", "contact"]

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def contact(i: int) -> dict[str, Any]:
    """Properties of the i-th generated contact."""
    return {
        "email": f"user{i}@example.com",
        "name": f"User {i}",
        "plan": ("free", "pro", "team")[i % 3],
        "score": i % 100,
    }


class CrmApp:
    """The app's data and its HTTP handlers (install them on a ``FaultServer``)."""

    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.by_email: dict[str, str] = {}
        # (updated_at, id) of every write, in order: updated_at only grows, so it
        # is sorted; entries superseded by a later write are skipped on reads.
        self.changes: list[tuple[str, str]] = []
        self._ids = itertools.count(1)
        self._clock = EPOCH
        self._lock = threading.Lock()

    def _tick(self) -> datetime:
        self._clock += timedelta(microseconds=1)
        return self._clock

    def seed(self, count: int, *, start: int = 0) -> None:
        """Create ``count`` contacts (contact(start) …) directly, without HTTP."""
        with self._lock:
            for i in range(start, start + count):
                self._put(None, contact(i))

    def change(self, record_id: str, **properties: Any) -> None:
        """Change a contact as a user of the app would (it gets a new ``updated_at``)."""
        with self._lock:
            self._put(record_id, {**self.contacts[record_id], **properties})

    def delete(self, record_id: str) -> None:
        with self._lock:
            gone = self.contacts.pop(record_id)
            self.by_email.pop(gone["email"], None)

    def _put(self, record_id: str | None, properties: dict[str, Any]) -> str:
        if record_id is None:
            record_id = f"c{next(self._ids)}"
        old = self.contacts.get(record_id)
        if old is not None:
            self.by_email.pop(old["email"], None)
        row = {
            "id": record_id,
            "email": properties.get("email"),
            "name": properties.get("name"),
            "plan": properties.get("plan"),
            "score": properties.get("score"),
            "updated_at": self._tick().isoformat(),
        }
        self.contacts[record_id] = row
        self.changes.append((row["updated_at"], record_id))
        if row["email"]:
            self.by_email[row["email"]] = record_id
        return record_id

    def install(self, server: FaultServer) -> None:
        server.route("GET", "/contacts", self._list)
        server.route("POST", "/contacts/batch", self._batch)

    def _list(self, request: ReceivedRequest) -> Any:
        params = request.params
        since = params.get("since", "")
        after = tuple(params["after"].split("|", 1)) if "after" in params else ("", "")
        limit = int(params.get("limit", "100"))
        page: list[dict[str, Any]] = []
        with self._lock:
            changes = self.changes
            i = max(bisect.bisect_left(changes, (since, "")), bisect.bisect_right(changes, after))
            while i < len(changes) and len(page) < limit:
                stamp, record_id = changes[i]
                row = self.contacts.get(record_id)
                if row is not None and row["updated_at"] == stamp:
                    page.append(dict(row))
                i += 1
        last = page[-1] if len(page) == limit else None
        return {"data": page, "next": f"{last['updated_at']}|{last['id']}" if last else None}

    def _batch(self, request: ReceivedRequest) -> Any:
        results: list[dict[str, Any]] = []
        with self._lock:
            for item in request.json()["records"]:
                props = item["properties"]
                record_id = item.get("id")
                email = props.get("email")
                if email is not None and "@" not in email:
                    results.append({"error": "invalid_email"})
                elif record_id is None and email in self.by_email:
                    results.append({"error": "duplicate_email"})
                elif record_id is not None and record_id not in self.contacts:
                    results.append({"error": "not_found"})
                elif record_id is None:
                    results.append({"id": self._put(None, props), "status": "created"})
                else:
                    merged = {**self.contacts[record_id], **props}
                    results.append({"id": self._put(record_id, merged), "status": "updated"})
        return {"results": results}
