"""PagerDuty connector: users and incidents through the REST API v2 (see docs/connectors/pagerduty.md)."""

from syncline.connectors.pagerduty.connector import ACCEPT, SPEC, PagerDuty, PagerDutySettings

__all__ = ["ACCEPT", "SPEC", "PagerDuty", "PagerDutySettings"]
