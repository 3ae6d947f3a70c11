"""Import and export runs: read a source in batches, write a destination, checkpoint.

* :mod:`.launch` — :func:`~.launch.run_pipeline`, what ``syncline run`` and
  the worker call: open the connectors, lease a run, execute it, finish it;
* :mod:`.importer` and :mod:`.exporter` — the two kinds of run, on the shared
  reading, batching and checkpointing of :mod:`.base` and :mod:`.reader`;
* :mod:`.steps` (validate, filter, map), :mod:`.writer` (``upsert`` through
  ``Records`` with bounded retries), :mod:`.tally` (counts, errors, timings),
  :mod:`.config` (the pipeline's stored configuration).

Semantics are documented in ``docs/pipelines.md``. Submodules are imported on
demand, so importing this package costs nothing.
"""
