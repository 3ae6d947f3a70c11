"""Mixpanel as a destination of ``events`` (Import API) and ``users`` (Engage profiles)."""

from syncline.connectors.mixpanel.connector import SPEC, Mixpanel, MixpanelSettings

__all__ = ["SPEC", "Mixpanel", "MixpanelSettings"]
