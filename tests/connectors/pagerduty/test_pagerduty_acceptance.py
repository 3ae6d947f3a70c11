"""The connector acceptance suite, run by the PagerDuty connector against its sandbox.

PagerDuty users have no change time: the sandbox's ``updated_at_of("users", …)``
is None, so the suite checks that user records carry none and that an
incremental read still returns every changed user (users are always read in full).
"""

from __future__ import annotations

from syncline.connectors.pagerduty import PagerDuty
from syncline.connectors.pagerduty.sandbox import PagerDutySandbox
from syncline.testing.acceptance import ConnectorAcceptance


class TestPagerDutyAcceptance(ConnectorAcceptance):
    connector = PagerDuty
    sandbox = PagerDutySandbox
    records = 250  # above PagerDuty's 100-item pages, so paging and resuming are exercised
