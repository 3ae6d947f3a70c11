"""The reference connector passes the whole acceptance suite against its sandbox."""

from __future__ import annotations

from kit_acme import cases
from kit_acme.connector import AcmeCRM
from kit_acme.sandbox import AcmeSandbox

from syncline.testing.acceptance import ConnectorAcceptance, EventCases, UpsertCases


class TestAcmeAcceptance(ConnectorAcceptance):
    connector = AcmeCRM
    sandbox = AcmeSandbox

    def upsert_cases(self, target: str) -> UpsertCases:
        return cases.upsert_cases(target)

    def event_cases(self) -> EventCases:
        return cases.event_cases()
