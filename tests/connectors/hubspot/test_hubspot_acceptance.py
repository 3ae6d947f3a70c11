"""The connector acceptance suite, run against the HubSpot sandbox."""

from __future__ import annotations

from syncline.connectors.hubspot import HubSpot
from syncline.connectors.hubspot.sandbox import HubSpotSandbox
from syncline.testing.acceptance import ConnectorAcceptance, UpsertCases


class TestHubSpotAcceptance(ConnectorAcceptance):
    connector = HubSpot
    sandbox = HubSpotSandbox
    records = 250  # above the list API's page of 100

    def upsert_cases(self, target: str) -> UpsertCases:
        # The suite seeds the sandbox with seed 0: the same IDs are live there.
        live = HubSpotSandbox(records=self.records, seed=0).ids(target)
        return UpsertCases(
            creates=[
                {"email": "ada@example.com", "firstname": "Ada", "lifecyclestage": "lead"},
                {"email": "alan@example.com", "interests": ["music", "books"]},
            ],
            updates=[(live[0], {"firstname": "Grace"}), (live[1], {"annualrevenue": 1200.0})],
            invalid=[
                ({"email": "not-an-address"}, "email"),
                ({"email": "x@example.com", "lifecyclestage": "unknown"}, "lifecyclestage"),
                ((live[2], {"num_notes": 3.0}), "num_notes"),
            ],
        )
