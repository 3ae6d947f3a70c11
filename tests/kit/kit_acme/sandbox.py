"""A local fake of the Acme CRM API: contacts with cursor pages, batch upsert with 207, events."""

from __future__ import annotations

import random
from typing import Any

import orjson

from syncline.sdk.testing.sandbox import (
    Collection,
    ItemResult,
    Sandbox,
    cursor_page,
    multi_status,
    seeded_times,
)
from syncline.sdk.testing.server import FaultServer, ReceivedRequest, Reply

API_KEY = "acme-sandbox-key-7f3a"
MAX_PAGE = 10
MAX_BODY = 64 * 1024
PLANS = ("free", "pro")


class AcmeSandbox(Sandbox):
    code = "kit-acme"

    def populate(self, records: int, rng: random.Random) -> None:
        times = seeded_times(records, rng)
        self.collections["users"] = Collection(
            [
                (
                    {
                        "id": 1000 + i,
                        "email": f"user{i}@example.com",
                        "first_name": f"U{i}",
                        "plan": rng.choice(PLANS),
                    },
                    times[i],
                )
                for i in range(records)
            ]
        )
        self.next_id = 1000 + records
        self.events: list[dict[str, Any]] = []

    def install(self, server: FaultServer) -> None:
        server.route("GET", "/v1/me", self._me)
        server.route("GET", "/v1/contacts", self._list)
        server.route("POST", "/v1/contacts/batch", self._batch)
        server.route("POST", "/v1/events", self._events)
        self.rate_limit(10, 20, prefix="/v1/")
        self.rate_limit(2, 2, prefix="/v1/events", method="POST")

    def settings(self) -> dict[str, Any]:
        return {"api_key": API_KEY, "base_url": self.url}

    def bad_settings(self) -> dict[str, Any]:
        return {"api_key": "acme-revoked-key-0000", "base_url": self.url}

    def rate_limited_reply(self, retry_after: float) -> Reply:
        return Reply(
            429,
            json={"error": "rate_limited", "retry_in_ms": int(retry_after * 1000)},
            headers={"X-Acme-RateLimit-Remaining": "0"},
            retry_after=retry_after,
        )

    def change(self, target: str, record: Any) -> dict[str, Any]:
        return {"first_name": f"{record['first_name']}*"}

    def _refused(self, request: ReceivedRequest) -> Reply | None:
        if request.header("authorization") != f"Bearer {API_KEY}":
            return Reply(401, json={"error": "invalid_api_key"})
        return None

    def _me(self, request: ReceivedRequest) -> Any:
        return self._refused(request) or {"account": "sandbox"}

    def _list(self, request: ReceivedRequest) -> Any:
        refused = self._refused(request)
        if refused:
            return refused
        users = self.collections["users"]
        since = request.params.get("updated_since")
        from datetime import datetime

        ids = users.ordered(datetime.fromisoformat(since) if since else None)
        limit = min(int(request.params.get("limit", MAX_PAGE)), MAX_PAGE)
        try:
            page, following = cursor_page(ids, request.params.get("cursor"), limit)
        except ValueError:
            return Reply(400, json={"error": "invalid_cursor"})
        return {"contacts": [users.render(i) for i in page], "next": following}

    def _batch(self, request: ReceivedRequest) -> Any:
        refused = self._refused(request)
        if refused:
            return refused
        users = self.collections["users"]
        results = []
        from datetime import UTC, datetime

        for index, contact in enumerate(request.json()["contacts"]):
            if "@" not in (contact.get("email") or ""):
                results.append(ItemResult(index, error="not an email address", field="email"))
                continue
            if contact.get("plan") not in (None, *PLANS):
                results.append(ItemResult(index, error="unknown plan", field="plan"))
                continue
            record_id = contact.get("id")
            if record_id is None:
                record_id = str(self.next_id)
                self.next_id += 1
            elif record_id not in users:
                results.append(ItemResult(index, error="no such contact", field="id"))
                continue
            current = users.get(record_id) or {"id": int(record_id)}
            users.put(
                {
                    **current,
                    **{k: v for k, v in contact.items() if k != "id"},
                    "id": int(record_id),
                },
                datetime.now(UTC),
            )
            results.append(ItemResult(index, id=record_id))
        return multi_status(results)

    def _events(self, request: ReceivedRequest) -> Any:
        refused = self._refused(request)
        if refused:
            return refused
        if len(request.body) > MAX_BODY:
            return Reply(413, json={"error": "body_too_large"})
        rejected = {}
        for index, line in enumerate(request.body.split(b"\n")):
            event = orjson.loads(line)
            if str(event.get("event") or "").startswith("$"):
                rejected[str(index)] = "event names starting with $ are reserved"
            else:
                self.events.append(event)
        return {"rejected": rejected}
