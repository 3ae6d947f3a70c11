"""When a scheduled pipeline is due.

A pipeline with ``schedule: {every: 15m}`` (stored as ``schedule_seconds``) is
due when it has never run, or when its last run *started* at least ``every``
ago. Measuring from the start keeps a steady cadence whatever a run's
duration; a run that takes longer than ``every`` is followed by the next one
at once, never by two at the same time (one live run per pipeline). A failed
or interrupted run counts like any other: the next one comes on schedule and
resumes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from syncline.store import Run

__all__ = ["due_at", "is_due"]


def due_at(every_seconds: int, last: Run | None) -> datetime | None:
    """When the pipeline is next due; None means now (it never ran)."""
    if last is None:
        return None
    return last.started_at + timedelta(seconds=every_seconds)


def is_due(every_seconds: int, last: Run | None, now: datetime) -> bool:
    """Whether a pipeline run every ``every_seconds`` whose last run is ``last`` is due at ``now``."""
    when = due_at(every_seconds, last)
    return when is None or when <= now
