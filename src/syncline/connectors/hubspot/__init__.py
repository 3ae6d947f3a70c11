"""HubSpot: import contacts (as users), companies and deals; create and update contacts.

Importing this package registers the connector. Its sandbox, a faithful local
fake of HubSpot's CRM API, is :class:`syncline.connectors.hubspot.sandbox.HubSpotSandbox`.
See ``docs/connectors/hubspot.md``.
"""

from syncline.connectors.hubspot.connector import SPEC, HubSpot, HubSpotSettings

__all__ = ["SPEC", "HubSpot", "HubSpotSettings"]
