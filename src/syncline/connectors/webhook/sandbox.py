"""A webhook receiver on a local server: verifies signatures, records and rejects on demand.

``POST /hooks/syncline`` takes the connector's ``{"events": […]}`` and
``{"users": […]}`` bodies. It answers:

* 401 when ``X-Syncline-Signature`` does not verify with :data:`SECRET` or the
  timestamp is more than 300 s away (nothing is recorded);
* 400 when the body is not one of the two shapes;
* 207 with ``{"errors": [{"index", "code"[, "field"]}]}`` for rejected items —
  events whose ``id`` is in :attr:`WebhookSandbox.reject_event_ids`, events
  whose ``message.context.traits.email`` is not an address (``field:
  "message.context.traits.email"``, ``code: "invalid"``), users at an index in
  :attr:`WebhookSandbox.reject_user_indexes`, users whose ``email`` is not an
  address (``field: "email"``, ``code: "invalid"``);
* 200 ``{}`` otherwise; 429 with ``Retry-After`` beyond 20 requests/s (bursts of 20).

Accepted events are appended to :attr:`WebhookSandbox.events`; accepted users
update ``collections["users"]`` (a user without ``id`` gets a new one).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from syncline.connectors.webhook.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from syncline.sdk.testing.sandbox import Collection, Sandbox, seeded_times
from syncline.sdk.testing.server import FaultServer, ReceivedRequest, Reply

__all__ = ["PATH", "SECRET", "WebhookSandbox"]

PATH = "/hooks/syncline"
SECRET = "whsec-sandbox-6f1d2c"
"""The signing secret the sandbox verifies with."""


class WebhookSandbox(Sandbox):
    """A receiver of the Webhook connector's requests; see the module docstring."""

    code = "webhook"

    def __init__(self, **options: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self.reject_event_ids: set[str] = set()
        self.reject_user_indexes: set[int] = set()
        self.refused_signatures = 0
        super().__init__(**options)

    def populate(self, records: int, rng: random.Random) -> None:
        times = seeded_times(records, rng)
        self.collections["users"] = Collection(
            [
                ({"id": f"u-{i}", "attributes": {"email": f"user{i}@example.com"}}, times[i])
                for i in range(records)
            ]
        )

    def install(self, server: FaultServer) -> None:
        server.route("POST", PATH, self.receive)
        self.rate_limit(20, burst=20, prefix=PATH)

    def settings(self) -> dict[str, Any]:
        return {
            "url": f"{self.url}{PATH}",
            "signing_secret": SECRET,
            "allow_private_addresses": True,
        }

    def bad_settings(self) -> dict[str, Any]:
        # The address policy refuses the sandbox's loopback address.
        return {"url": f"https://127.0.0.1:1{PATH}", "signing_secret": "wrong-secret"}

    def receive(self, request: ReceivedRequest) -> Reply:
        if not verify(
            SECRET,
            request.header(TIMESTAMP_HEADER),
            request.header(SIGNATURE_HEADER),
            request.body,
            now=time.time(),
        ):
            self.refused_signatures += 1
            return Reply(401, json={"error": "invalid signature"})
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return Reply(400, json={"error": "body is not JSON"})
        if isinstance(body, dict) and isinstance(body.get("events"), list):
            return self._events(body["events"])
        if isinstance(body, dict) and isinstance(body.get("users"), list):
            return self._users(body["users"])
        return Reply(400, json={"error": "expected {'events': [...]} or {'users': [...]}"})

    def _events(self, events: list[Any]) -> Reply:
        errors: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            if event.get("id") in self.reject_event_ids:
                errors.append({"index": index, "code": "rejected", "message": "refused event"})
                continue
            email = _traits(event).get("email")
            if email is not None and not (isinstance(email, str) and "@" in email):
                # As for users: the receiver's text quotes the value.
                errors.append(
                    {
                        "index": index,
                        "code": "invalid",
                        "field": "message.context.traits.email",
                        "message": f"{email} is not an email address",
                    }
                )
                continue
            self.events.append(event)
        return Reply(207, json={"errors": errors}) if errors else Reply(200, json={})

    def _users(self, users: list[Any]) -> Reply:
        errors: list[dict[str, Any]] = []
        collection = self.collections["users"]
        stamp = datetime.now(UTC)
        for index, user in enumerate(users):
            email = (user.get("attributes") or {}).get("email")
            if index in self.reject_user_indexes:
                errors.append({"index": index, "code": "rejected"})
            elif email is not None and "@" not in email:
                # A receiver's own text may quote the value: the connector must not echo it.
                errors.append(
                    {
                        "index": index,
                        "code": "invalid",
                        "field": "email",
                        "message": f"{email} is not an email address",
                    }
                )
            else:
                user_id = user.get("id") or f"u-{len(collection)}-{self.rng.randrange(10**9)}"
                collection.put({"id": user_id, "attributes": user.get("attributes")}, stamp)
        return Reply(207, json={"errors": errors}) if errors else Reply(200, json={})


def _traits(event: Any) -> dict[str, Any]:
    """``message.context.traits`` of a posted event, or {} when any step is not an object."""
    value: Any = event
    for key in ("message", "context", "traits"):
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}
