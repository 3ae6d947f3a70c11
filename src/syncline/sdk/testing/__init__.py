"""Tools for testing connectors without the engine.

Build the ``Records`` or ``Events`` a connector method receives, call it, and
read back what the engine would do with each item (:func:`report_of`).
"""

from syncline.sdk.testing.builders import (
    DEFAULT_ANONYMOUS_ID,
    CallReport,
    events_from,
    message,
    received_event,
    records_from,
    report,
    report_of,
)
from syncline.sdk.testing.settings import MemorySettings

__all__ = [
    "DEFAULT_ANONYMOUS_ID",
    "CallReport",
    "MemorySettings",
    "events_from",
    "message",
    "received_event",
    "records_from",
    "report",
    "report_of",
]
