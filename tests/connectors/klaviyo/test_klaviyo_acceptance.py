"""The connector acceptance suite, run against the Klaviyo sandbox."""

from __future__ import annotations

from syncline.connectors.klaviyo import Klaviyo
from syncline.connectors.klaviyo.sandbox import KlaviyoSandbox
from syncline.testing.acceptance import ConnectorAcceptance, EventCases, UpsertCases

# Over Klaviyo's 5 MB per bulk request, alone.
BIG = "x" * (5 * 1024 * 1024 + 10)


class TestKlaviyoAcceptance(ConnectorAcceptance):
    connector = Klaviyo
    sandbox = KlaviyoSandbox
    records = 230  # above the page of 100

    def upsert_cases(self, target: str) -> UpsertCases:
        live = KlaviyoSandbox(records=self.records, seed=0).ids(target)
        return UpsertCases(
            creates=[
                {"email": "ada@example.com", "first_name": "Ada"},
                {"external_id": "new-ext-1", "title": "Engineer"},
            ],
            updates=[(live[0], {"first_name": "Grace"}), (live[1], {"organization": "Acme"})],
            invalid=[
                ({"email": "not-an-address"}, "email"),
                ({"email": "p@example.com", "phone_number": "12"}, "phone_number"),
                ((live[2], {"email": "still-not-an-address"}), "email"),
            ],
        )

    def event_cases(self) -> EventCases:
        return EventCases(
            send=[
                {
                    "type": "track",
                    "event": "Signed Up",
                    "userId": "u1",
                    "properties": {"plan": "pro-monthly"},
                },
                {
                    "type": "track",
                    "event": "Viewed",
                    "anonymousId": "anon-7",
                    "context": {"traits": {"email": "v@example.com"}},
                },
            ],
            discard=[{"type": "track", "event": "Anonymous", "anonymousId": "anon-8"}],
            reject=[
                {
                    # Shaped like an address, but Klaviyo refuses the top-level domain.
                    "type": "track",
                    "event": "Bad domain",
                    "userId": "u3",
                    "context": {"traits": {"email": "u3@example.c0m"}},
                },
            ],
            oversized={
                "type": "track",
                "event": "Huge",
                "userId": "u4",
                "properties": {"blob": BIG},
            },
            type_id="track",
        )
