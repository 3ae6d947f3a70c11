"""What one run checkpoint costs on a SQLite file: the raw path against SQLAlchemy's.

    python bench/checkpoint.py [--checkpoints 300] [--repeat 5]

A run checkpoints after every batch (``batch_size`` records, 500 by default).
This opens a store on a fresh SQLite file (``synchronous=FULL``: every commit
fsyncs), starts a run, and times ``store.runs.checkpoint`` as the engine calls
it (cursor, high-water mark, counts, error groups, timings), on an idle event
loop. Two ways, interleaved in each repetition:

* ``raw`` — what a SQLite file takes (:mod:`syncline.store.runs_sqlite`): the
  transaction in one trip to the store's run writer thread;
* ``sqlalchemy`` — the same store with that writer switched off, so the
  checkpoint takes the SQLAlchemy path that PostgreSQL and in-memory SQLite
  take (six or more trips through the asyncio driver).

Prints the median milliseconds per checkpoint of each, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from syncline.store import ErrorGroup, Store, Workspace, open_store

COUNTS = dict.fromkeys(
    ["created", "duplicate", "failed", "filtered", "invalid", "purged", "read", "skipped",
     "transformed", "updated", "written"], 5000,
)  # fmt: skip
TIMINGS = {"read": 1.25, "transform": 0.002, "write": 0.75, "finish": 0.0, "total": 2.0}
GROUPS = [ErrorGroup('property "email": is not a valid email address', 3, "u17")]


async def per_checkpoint(store: Store, run_id: int, checkpoints: int) -> float:
    """Milliseconds per checkpoint over ``checkpoints`` consecutive ones."""
    began = time.perf_counter()
    for i in range(checkpoints):
        await store.runs.checkpoint(
            run_id,
            owner="bench",
            cursor=str(i),
            high_water=datetime(2026, 1, 1, tzinfo=UTC),
            counts=COUNTS,
            error_groups=GROUPS,
            timings=TIMINGS,
        )
    return (time.perf_counter() - began) / checkpoints * 1000


async def measure(checkpoints: int, repeat: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"raw": [], "sqlalchemy": []}
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "home")
        workspace.ensure()
        store = await open_store(workspace=workspace)
        try:
            source = await store.connections.save("api", connector="hubspot", roles=["source"])
            pipeline = await store.pipelines.save(
                "users", kind="import", target="users", source_connection_id=source.id
            )
            run = await store.runs.start(pipeline.id, owner="bench", full=True)
            raw = store.runs._raw
            assert raw is not None, "a SQLite file takes the raw path"
            for rep in range(repeat):
                order = ["raw", "sqlalchemy"][:: 1 if rep % 2 == 0 else -1]
                for way in order:
                    store.runs._raw = raw if way == "raw" else None
                    ms = await per_checkpoint(store, run.id, checkpoints)
                    results[way].append(ms)
                    print(f"  rep {rep + 1} {way:<10} {ms:.3f} ms per checkpoint", flush=True)
            store.runs._raw = raw
        finally:
            await store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}", flush=True)  # fmt: skip
    results = asyncio.run(measure(args.checkpoints, args.repeat))
    raw = statistics.median(results["raw"])
    plain = statistics.median(results["sqlalchemy"])
    print(f"raw path:        median {raw:.3f} ms per checkpoint")
    print(
        f"SQLAlchemy path: median {plain:.3f} ms per checkpoint ({plain / raw:.1f}x the raw path)"
    )


if __name__ == "__main__":
    main()
