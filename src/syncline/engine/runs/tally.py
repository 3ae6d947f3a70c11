"""Counts per step, errors grouped by message, and timings of one run.

A run's numbers are totals: when a run resumes another, it starts from the
totals the interrupted run last checkpointed, so the history of a pipeline
adds up across a crash (records of the batch re-sent after the crash are
counted again; the docs say so).

Steps, in the order a record meets them:

* ``read`` — records the source returned (duplicates included);
* ``duplicate`` — records dropped because a later version of the same ID came
  in the same batch;
* ``invalid`` — records that failed validation (or the source's own read error);
* ``filtered`` — records the pipeline's filter left out;
* ``transformed`` — records the mapping produced (a mapping error counts as
  ``failed``);
* ``written`` — records the destination accepted;
* ``failed`` — records the destination (or the mapping) rejected for good;
* ``created`` / ``updated`` / ``skipped`` — export only: written records by
  operation, and rows left out by the export mode;
* ``purged`` — import only: destination records deleted by a full run's purge.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

from syncline.sdk.errors import ConnectorError
from syncline.store import ErrorGroup
from syncline.types import ValidationError

__all__ = ["STEPS", "Tally"]

STEPS = (
    "read",
    "duplicate",
    "invalid",
    "filtered",
    "transformed",
    "written",
    "failed",
    "created",
    "updated",
    "skipped",
    "purged",
)

# Distinct messages kept per run; beyond it, failures still count, under one group.
_MAX_GROUPS = 200
_OTHER = "other errors (too many distinct messages to list)"

# The module of MappingError. It is looked up, not imported: importing it loads
# the whole expression language (parser, compiler, functions), which a run
# without a filter or a mapping never needs, and while it is not loaded no
# MappingError can exist.
_EXPRESSION_ERRORS = "syncline.engine.expressions.errors"


def _is_mapping_error(error: BaseException) -> bool:
    module = sys.modules.get(_EXPRESSION_ERRORS)
    return module is not None and isinstance(error, module.MappingError)


def message_of(error: BaseException) -> str:
    """The fixed, data-free text stored for a failed record.

    Typed connector errors and validation errors are built without values, so
    their ``str`` is safe; any other exception is reported by its type only,
    because its text may quote a record's values.
    """
    if isinstance(error, ValidationError | ConnectorError) or _is_mapping_error(error):
        return str(error)
    return f"unexpected {type(error).__name__} (the message is not stored: it may hold data)"


@dataclass(slots=True)
class Tally:
    """Mutable totals of one run; :meth:`snapshot` gives what the store keeps."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STEPS, 0))
    groups: dict[str, list[Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def resumed(
        cls,
        counts: dict[str, int],
        groups: tuple[ErrorGroup, ...],
        timings: dict[str, float],
    ) -> Tally:
        """Totals that continue the ones an interrupted run checkpointed."""
        tally = cls()
        for step, value in counts.items():
            tally.counts[step] = int(value)
        for g in groups:
            tally.groups[g.message] = [g.count, g.sample_record_id]
        tally.timings = {k: float(v) for k, v in timings.items() if k != "total"}
        tally.timings["previous"] = float(timings.get("total", 0.0))
        return tally

    def add(self, step: str, n: int = 1) -> None:
        self.counts[step] = self.counts.get(step, 0) + n

    def error(self, message: str, record_id: str | None) -> None:
        """Count one failed record under ``message`` (the first ID seen is the sample)."""
        group = self.groups.get(message)
        if group is None:
            if len(self.groups) >= _MAX_GROUPS:
                message = _OTHER
                group = self.groups.get(message)
            if group is None:
                self.groups[message] = [1, record_id or None]
                return
        group[0] += 1
        if group[1] is None and record_id:
            group[1] = record_id

    def time(self, step: str, seconds: float) -> None:
        self.timings[step] = self.timings.get(step, 0.0) + seconds

    def error_groups(self) -> list[ErrorGroup]:
        """Groups, largest first."""
        ordered = sorted(self.groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [ErrorGroup(message, count, sample) for message, (count, sample) in ordered]

    def timings_now(self) -> dict[str, float]:
        """Seconds per step so far, plus ``total`` (this run and any it resumed)."""
        timings = {k: round(v, 6) for k, v in self.timings.items() if k != "previous"}
        timings["total"] = round(
            self.timings.get("previous", 0.0) + time.perf_counter() - self.started, 6
        )
        return timings

    def counts_now(self) -> dict[str, int]:
        return dict(self.counts)
