"""The connector acceptance suite, run against the webhook sandbox."""

from __future__ import annotations

from typing import Any

from syncline.connectors.webhook import Webhook
from syncline.connectors.webhook.sandbox import WebhookSandbox
from syncline.testing.acceptance import ConnectorAcceptance, EventCases, UpsertCases

# The connector forwards the whole message, and the suite builds the preview's
# events and the sent events separately: a fixed timestamp keeps them equal
# (without one, each build fills in the current time).
AT = "2026-03-01T12:00:00.000Z"


OVERSIZED = {
    "type": "track",
    "event": "Uploaded",
    "userId": "u1",
    "timestamp": AT,
    "properties": {"blob": "x" * 1_100_000},  # above the default 1 MB body limit
}


class RejectingSandbox(WebhookSandbox):
    """The sandbox told to reject the events with the IDs the reject cases carry."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.reject_event_ids = {"reject-me-1", "reject-me-2"}


class TestWebhookAcceptance(ConnectorAcceptance):
    connector = Webhook
    sandbox = RejectingSandbox
    records = 20

    def upsert_cases(self, target: str) -> UpsertCases:
        live = WebhookSandbox(records=self.records, seed=0).ids(target)
        return UpsertCases(
            creates=[
                {"email": "ada@example.com", "first_name": "Ada"},
                {"email": "alan@example.com"},
            ],
            updates=[(live[0], {"first_name": "Grace"}), (live[1], {"traits": {"plan": "pro"}})],
            invalid=[
                ({"email": "not-an-address"}, "email"),
                ((live[2], {"email": "nope"}), "email"),
            ],
        )

    def event_cases(self) -> EventCases:
        return EventCases(
            send=[
                {
                    "type": "track",
                    "event": "Signed Up",
                    "userId": "u1",
                    "timestamp": AT,
                    "properties": {"plan": "pro"},
                },
                {"type": "identify", "userId": "u2", "timestamp": AT, "traits": {"name": "Grace"}},
            ],
            discard=[OVERSIZED],
            reject=[
                {
                    "type": "track",
                    "event": "Refused",
                    "userId": "u3",
                    "timestamp": AT,
                    "messageId": "reject-me-1",
                },
                {
                    "type": "track",
                    "event": "Refused",
                    "userId": "u4",
                    "timestamp": AT,
                    "messageId": "reject-me-2",
                },
            ],
            oversized=OVERSIZED,
            type_id="event",
        )
