"""Klaviyo: import profiles as users, create and update profiles, send track events in bulk.

Importing this package registers the connector. Its sandbox, a local fake of
Klaviyo's JSON:API, is :class:`syncline.connectors.klaviyo.sandbox.KlaviyoSandbox`.
See ``docs/connectors/klaviyo.md``.
"""

from syncline.connectors.klaviyo.connector import SPEC, Klaviyo, KlaviyoSettings

__all__ = ["SPEC", "Klaviyo", "KlaviyoSettings"]
