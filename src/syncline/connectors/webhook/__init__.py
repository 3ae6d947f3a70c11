"""Webhook: deliver events and users as signed JSON batches to a URL of your own.

Importing this package registers the connector. Its sandbox, a receiver that
verifies signatures, is :class:`syncline.connectors.webhook.sandbox.WebhookSandbox`.
See ``docs/connectors/webhook.md``.
"""

from syncline.connectors.webhook.connector import SPEC, Webhook, WebhookSettings
from syncline.connectors.webhook.signing import sign, verify

__all__ = ["SPEC", "Webhook", "WebhookSettings", "sign", "verify"]
