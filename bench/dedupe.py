"""What a routing transaction costs, part by part, as the dedupe index grows.

Delivery's routing transaction (``syncline.store.delivery_sqlite.route``)
writes each routed event's dedupe key — ``(pipeline_id, messageId)`` — and
its delivery row, then commits. Segment clients make ``messageId`` a random
UUID, so each key lands on a random page of the dedupe index, and a
transaction writes every page it touched to the WAL at its commit; the
delivery rows are appended in id order. This script builds the real store
schema in a fresh SQLite workspace, grows the dedupe index to each size in
``--sizes`` with the real statements, and times, for each number of events
per transaction in ``--batches``, the dedupe upsert, the delivery rows'
insert and the commit (``synchronous=FULL``: an fsync of the WAL), medians
of ``--repeat`` transactions. The time is the store's write lock held: what
the collector waits for.

    .venv/bin/python bench/dedupe.py
    .venv/bin/python bench/dedupe.py --sizes 0,100000,400000 --batches 500,2000,8000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syncline.store import Workspace, open_store
from syncline.store.delivery_rows import NewDelivery
from syncline.store.delivery_sqlite import route_statements
from syncline.store.raw_sqlite import connect

PAYLOAD = b'{"type":"track","event":"Order Completed","properties":{"n":1}}' * 5
WINDOW = timedelta(hours=24)


async def _schema(home: Path) -> tuple[int, int]:
    """A fresh workspace with a destination connection and an event pipeline."""
    store = await open_store(workspace=Workspace(home))
    try:
        await store.event_sources.create("web")
        connection = await store.connections.save(
            "app",
            connector="webhook",
            roles=["destination"],
            settings={"url": "http://127.0.0.1:9/"},
        )
        pipeline = await store.pipelines.save(
            "web-to-app", kind="events", target="events", destination_connection_id=connection.id
        )
        return pipeline.id, connection.id
    finally:
        await store.close()


def _rows(pipeline_id: int, connection_id: int, n: int, first_event: int) -> list[NewDelivery]:
    now = datetime.now(UTC)
    return [
        NewDelivery(
            pipeline_id,
            connection_id,
            first_event + i,
            str(uuid.uuid4()),
            f"a:user-{(first_event + i) % 10_000}",
            None,
            PAYLOAD,
            now,
        )
        for i in range(n)
    ]


def _transaction(conn: sqlite3.Connection, rows: list[NewDelivery]) -> tuple[float, float, float]:
    """Seconds of the dedupe upsert, the rows' insert and the commit."""
    statements = route_statements(rows, datetime.now(UTC), WINDOW)
    conn.execute("BEGIN IMMEDIATE")
    began = time.perf_counter()
    fresh = 0
    for sql, parameters in statements.dedupe:
        fresh += len(conn.execute(sql, parameters).fetchall())
    deduped = time.perf_counter()
    assert fresh == len(rows), "random messageIds are never duplicates"
    for sql, parameters in statements.insert:
        conn.execute(sql, parameters)
    inserted = time.perf_counter()
    conn.execute("COMMIT")
    committed = time.perf_counter()
    return deduped - began, inserted - deduped, committed - inserted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0,50000,200000,400000")
    parser.add_argument("--batches", default="500,2000,8000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    print(f"command: bench/dedupe.py {' '.join(sys.argv[1:])}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}")  # fmt: skip
    print("keys in index | events per transaction | dedupe ms | rows ms | commit ms | µs per event")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        pipeline_id, connection_id = asyncio.run(_schema(home))
        # The delivery writer's connection settings (WAL, synchronous=FULL, its cache).
        conn = connect(str(home / "syncline.db"), pragmas=("PRAGMA cache_size=-65536",))
        event = 1
        for size in sizes:
            while (have := conn.execute("SELECT count(*) FROM event_dedupe").fetchone()[0]) < size:
                n = min(20_000, size - have)
                _transaction(conn, _rows(pipeline_id, connection_id, n, event))
                event += n
                # Keep the delivery table small, as delivery does by deleting sent rows.
                conn.execute("DELETE FROM event_deliveries")
            for batch in batches:
                spent = []
                for _ in range(args.repeat):
                    spent.append(
                        _transaction(conn, _rows(pipeline_id, connection_id, batch, event))
                    )
                    event += batch
                    conn.execute("DELETE FROM event_deliveries")
                dedupe, rows, commit = (statistics.median(s[k] for s in spent) for k in range(3))
                per_event = 1e6 * (dedupe + rows + commit) / batch
                print(f"{size:>13,} | {batch:>22,} | {1e3 * dedupe:9.1f} | {1e3 * rows:7.1f} | "
                      f"{1e3 * commit:9.1f} | {per_event:12.1f}")  # fmt: skip
        conn.close()


if __name__ == "__main__":
    main()
