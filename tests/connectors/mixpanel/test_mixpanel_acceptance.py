"""The connector acceptance suite, run against the Mixpanel sandbox."""

from __future__ import annotations

from syncline.connectors.mixpanel import Mixpanel
from syncline.connectors.mixpanel.sandbox import MixpanelSandbox
from syncline.testing.acceptance import ConnectorAcceptance, EventCases, UpsertCases

# Over Mixpanel's 1 MB limit per event (and so alone over no request).
BIG = "x" * (1024 * 1024 + 10)


class TestMixpanelAcceptance(ConnectorAcceptance):
    connector = Mixpanel
    sandbox = MixpanelSandbox
    records = 20

    def upsert_cases(self, target: str) -> UpsertCases:
        live = MixpanelSandbox(records=self.records, seed=0).ids(target)
        # No creates: a profile is keyed by its distinct_id (the record ID);
        # $set on an unknown distinct_id creates it, as an "update".
        return UpsertCases(
            creates=[],
            updates=[(live[0], {"first_name": "Grace"}), (live[1], {"email": "a@example.com"})],
            invalid=[
                ((live[2], {"email": "not-an-address"}), "email"),
                ({"email": "new@example.com"}, "ID"),
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
                {"type": "track", "event": "Viewed", "anonymousId": "anon-device-7"},
            ],
            discard=[
                {"type": "track", "event": "Huge", "userId": "u2", "properties": {"blob": BIG}},
            ],
            reject=[
                {"type": "track", "event": "Bad user", "userId": "null"},
                {
                    "type": "track",
                    "event": "Too old",
                    "userId": "u3",
                    "timestamp": "1970-06-01T00:00:00Z",
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
