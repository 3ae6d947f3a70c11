"""Acceptance classes of the broken connectors; run by tests/kit/test_kit_broken.py in a subprocess.

Not named ``test_*.py``: the main test run must not collect them (they fail on purpose).
"""

from __future__ import annotations

from kit_acme import cases

from kit_broken.discard import BrokenDiscard, BrokenDiscardSandbox
from kit_broken.greedy import BrokenGreedy, BrokenGreedySandbox
from kit_broken.multistatus import BrokenMultiStatus, BrokenMultiStatusSandbox
from kit_broken.now import BrokenNow, BrokenNowSandbox
from kit_broken.postpone import BrokenPostpone, BrokenPostponeSandbox
from kit_broken.secret import BrokenSecret, BrokenSecretSandbox
from syncline.testing.acceptance import ConnectorAcceptance, EventCases, UpsertCases


class AcmeCases(ConnectorAcceptance):
    def upsert_cases(self, target: str) -> UpsertCases:
        return cases.upsert_cases(target)

    def event_cases(self) -> EventCases:
        return cases.event_cases()


class TestBrokenDiscard(AcmeCases):
    connector = BrokenDiscard
    sandbox = BrokenDiscardSandbox


class TestBrokenMultiStatus(AcmeCases):
    connector = BrokenMultiStatus
    sandbox = BrokenMultiStatusSandbox


class TestBrokenNow(AcmeCases):
    connector = BrokenNow
    sandbox = BrokenNowSandbox


class TestBrokenPostpone(AcmeCases):
    connector = BrokenPostpone
    sandbox = BrokenPostponeSandbox


class TestBrokenSecret(AcmeCases):
    connector = BrokenSecret
    sandbox = BrokenSecretSandbox


class TestBrokenGreedy(AcmeCases):
    connector = BrokenGreedy
    sandbox = BrokenGreedySandbox
