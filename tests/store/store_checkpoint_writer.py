"""Child process for the kill -9 test: checkpoints in a loop and acknowledges each.

Usage: python store_checkpoint_writer.py DATABASE_URL WORKSPACE_DIR

Prints ``READY <pipeline_id>`` once set up, then ``ACK <n>`` after the store call
that wrote checkpoint ``n`` returned, forever, until killed.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syncline.store import Workspace, open_store


async def main(url: str, home: str) -> None:
    store = await open_store(url, workspace=Workspace(Path(home)))
    source = await store.connections.save("src", connector="hubspot", roles=["source"])
    pipeline = await store.pipelines.save(
        "contacts", kind="import", target="users", source_connection_id=source.id
    )
    run = await store.runs.start(pipeline.id, owner="child", full=True)
    print(f"READY {pipeline.id}", flush=True)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    n = 0
    while True:
        n += 1
        await store.runs.checkpoint(
            run.id,
            owner="child",
            cursor=f"page-{n}",
            high_water=start + timedelta(seconds=n),
            seen_record_ids=[f"rec-{n}-{i}" for i in range(20)],
            counts={"read": n * 20},
        )
        print(f"ACK {n}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
