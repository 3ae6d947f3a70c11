"""The connector acceptance suite, run against the GA4 Measurement Protocol sandbox."""

from __future__ import annotations

from syncline.connectors.google_analytics import GoogleAnalytics
from syncline.connectors.google_analytics.sandbox import GoogleAnalyticsSandbox
from syncline.testing.acceptance import ConnectorAcceptance, EventCases

# One parameter alone over the 130 kB request limit (and over 100 characters).
BIG = "x" * 140_000


class TestGoogleAnalyticsAcceptance(ConnectorAcceptance):
    connector = GoogleAnalytics
    sandbox = GoogleAnalyticsSandbox
    records = 0

    def event_cases(self) -> EventCases:
        return EventCases(
            send=[
                {
                    "type": "track",
                    "event": "tutorial_begin",
                    "anonymousId": "device-1",
                    "userId": "u1",
                    "properties": {"plan": "pro-monthly", "step": 1},
                },
                {"type": "track", "event": "join_group", "anonymousId": "device-1", "userId": "u1"},
            ],
            discard=[
                {
                    "type": "track",
                    "event": "Signed-Up",  # a hyphen: GA4 drops the event
                    "anonymousId": "device-1",
                    "userId": "u1",
                    "properties": {"marker": "discarded-hyphen-name"},
                },
                {
                    "type": "track",
                    "event": "ok_name",
                    "anonymousId": "device-1",
                    "userId": "u1",
                    "properties": {"ga_source": "discarded-reserved-prefix"},
                },
            ],
            oversized={
                "type": "track",
                "event": "huge",
                "anonymousId": "device-1",
                "userId": "u1",
                "properties": {"blob": BIG},
            },
            type_id="custom",
        )
