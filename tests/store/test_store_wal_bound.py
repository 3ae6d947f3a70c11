"""The WAL of the raw ``sqlite3`` writers is cut back once it passes its limit.

With PASSIVE checkpoints only, writers that never pause (the collector and
delivery in two processes) keep appending frames while each checkpoint copies
the earlier ones, so no checkpoint ever copies them all, SQLite never starts
the WAL over, and the file grows for as long as the writes go on (700 MB in
12 s of the event benchmark, `bench/events.py --processes 2`). Past its frame
limit the checkpointer truncates the WAL, without making writers wait on a
reader that holds an old snapshot.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from syncline.store.raw_sqlite import WalCheckpointer, connect

PAGE = 4096
LIMIT_FRAMES = 256  # 1 MiB
ROW = b"x" * 900


def _wal_bytes(path: Path) -> int:
    try:
        return os.path.getsize(f"{path}-wal")
    except FileNotFoundError:
        return 0


def test_a_wal_past_its_limit_is_truncated_once_no_reader_holds_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    with closing(sqlite3.connect(path)) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    writer = connect(str(path))
    writer.executemany("INSERT INTO t (body) VALUES (?)", [(ROW,)] * 2000)
    stuck = connect(str(path))
    stuck.execute("BEGIN")
    stuck.execute("SELECT count(*) FROM t").fetchone()  # holds its snapshot
    writer.executemany("INSERT INTO t (body) VALUES (?)", [(ROW,)] * 2000)
    checkpoints = WalCheckpointer(
        str(path), 1, "test-wal-stuck", limit_frames=LIMIT_FRAMES, restart_wait_ms=50
    )
    checkpoints.written(1)
    checkpoints._thread.submit(lambda: None).result()  # the checkpoint is over
    # The restart gave up (the reader still reads frames of the WAL) and the
    # writer goes on at once instead of waiting for the reader.
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t (body) VALUES (?)", (ROW,))
    writer.execute("COMMIT")
    assert stuck.execute("SELECT count(*) FROM t").fetchone()[0] == 2000
    stuck.execute("COMMIT")
    # Once the reader let go, the next checkpoint restarts the WAL.
    checkpoints.written(1)
    checkpoints._thread.submit(lambda: None).result()
    writer.execute("INSERT INTO t (body) VALUES (?)", (ROW,))
    with closing(sqlite3.connect(path)) as probe:
        _, frames, _ = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames < 10, "the WAL did not start over"
    assert _wal_bytes(path) < LIMIT_FRAMES * PAGE
    writer.close()
    stuck.close()
