"""Process-wide settings of the garbage collector for Syncline's long-running commands.

For process entry points (``syncline run``, ``worker``, ``serve``, ``events
deliver``, benchmarks), never for libraries embedding the engine: they change
the whole interpreter.

Both jobs allocate millions of short-lived containers (records, messages, rows);
every 700 of them CPython starts a collection, and a full one walks every object
alive — modules, SQLAlchemy, pydantic models, and a sender's backlog.
``gc.freeze()`` moves the objects alive at start-up out of the collector's reach,
and higher thresholds collect less often. Records and events hold no reference
cycles, so reference counting still frees them at once; only cyclic garbage
(requests, exceptions) waits longer.

The freeze is not preceded by a full collection: cyclic garbage left by
start-up (imports, migrations, the first queries) is frozen with the live
objects and kept for the life of the process. It is small — about 1,500
objects, 0.2 MB, in ``syncline run`` of an import pipeline — while the
collection that would free it walks every object alive at start-up: about
25 ms of every run's fixed cost (``syncline run`` keeps the collector off until
its run is leased, so all of start-up is young and a cheaper partial
collection would walk it all the same).
"""

from __future__ import annotations

import gc

__all__ = ["tune_gc_for_delivery", "tune_gc_for_runs"]


def _tune(first: int, second: int | None = None, third: int | None = None) -> None:
    gc.freeze()
    _, old_second, old_third = gc.get_threshold()
    gc.set_threshold(first, second or old_second, third or old_third)


def tune_gc_for_runs(threshold: int = 10_000) -> None:
    """Pipelines: first-generation threshold ``threshold`` (about 10% more records/s in
    ``bench/import.py``); a much larger one let the cyclic garbage of HTTP requests
    pile up (peak memory grew with the record count at 50,000), so it stays moderate."""
    _tune(threshold)


def tune_gc_for_delivery() -> None:
    """The collector and delivery: thresholds (20,000, 20, 50).

    A sender keeps its backlog (delivery rows, decoded events) alive between
    batches, so full collections walked it over and over: about 8 µs of
    collector time per delivered event, a third of the event loop's work. Rarer
    full collections bring that to about 2 µs (``bench/events.py``,
    docs/benchmarks.md "event delivery")."""
    _tune(20_000, 20, 50)
