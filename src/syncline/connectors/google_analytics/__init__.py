"""Google Analytics 4 as a destination of ``events`` (Measurement Protocol)."""

from syncline.connectors.google_analytics.connector import (
    SPEC,
    GoogleAnalytics,
    GoogleAnalyticsSettings,
)

__all__ = ["SPEC", "GoogleAnalytics", "GoogleAnalyticsSettings"]
