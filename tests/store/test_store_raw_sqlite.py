"""The raw ``sqlite3`` writers' shared parts: the WAL bound and the write-lock wait.

The WAL is cut back once it passes its limit. With PASSIVE checkpoints only, writers that never pause (the collector and
delivery in two processes) keep appending frames while each checkpoint copies
the earlier ones, so no checkpoint ever copies them all, SQLite never starts
the WAL over, and the file grows for as long as the writes go on (700 MB in
12 s of the event benchmark, `bench/events.py --processes 2`). Past its frame
limit the checkpointer truncates the WAL, without making writers wait on a
reader that holds an old snapshot.

A writer that finds the write lock taken tries again in short steps instead
of SQLite's busy handler, whose sleeps grow to 100 ms.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from syncline.store.database import BUSY_TIMEOUT_MS
from syncline.store.raw_sqlite import WalCheckpointer, begin_immediate, connect

PAGE = 4096
LIMIT_FRAMES = 256  # 1 MiB
ROW = b"x" * 900


def _wal_bytes(path: Path) -> int:
    try:
        return os.path.getsize(f"{path}-wal")
    except FileNotFoundError:
        return 0


def _store(tmp_path: Path) -> Path:
    """A WAL-mode SQLite file with one table ``t``."""
    path = tmp_path / "store.db"
    with closing(sqlite3.connect(path)) as setup:
        assert setup.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    return path


def _wal_held_by_a_reader(path: Path) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    """A writer and a reader holding a snapshot, with a WAL past the limit behind it."""
    writer = connect(str(path))
    writer.executemany("INSERT INTO t (body) VALUES (?)", [(ROW,)] * 2000)
    reader = connect(str(path))
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # holds its snapshot
    writer.executemany("INSERT INTO t (body) VALUES (?)", [(ROW,)] * 2000)
    return writer, reader


def _checkpoint(checkpoints: WalCheckpointer) -> None:
    """Ask for a checkpoint and wait until it is over."""
    checkpoints.written(1)
    checkpoints._thread.submit(lambda: None).result()


def test_a_wal_past_its_limit_is_truncated_once_no_reader_holds_it(
    tmp_path: Path,
) -> None:
    path = _store(tmp_path)
    writer, stuck = _wal_held_by_a_reader(path)
    checkpoints = WalCheckpointer(
        str(path),
        1,
        "test-wal-stuck",
        limit_frames=LIMIT_FRAMES,
        truncate_wait_ms=50,
        truncate_backoff=0.0,
    )
    _checkpoint(checkpoints)
    # The truncation gave up after 50 ms (the reader still reads frames of the
    # WAL): writers and the reader go on, the reader's snapshot intact.
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t (body) VALUES (?)", (ROW,))
    writer.execute("COMMIT")
    assert stuck.execute("SELECT count(*) FROM t").fetchone()[0] == 2000
    stuck.execute("COMMIT")
    # Once the reader let go, the next checkpoint truncates the WAL.
    _checkpoint(checkpoints)
    writer.execute("INSERT INTO t (body) VALUES (?)", (ROW,))
    with closing(sqlite3.connect(path)) as probe:
        _, frames, _ = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames < 10, "the WAL did not start over"
    assert _wal_bytes(path) < LIMIT_FRAMES * PAGE
    writer.close()
    stuck.close()


def test_a_reader_holding_its_snapshot_stalls_writers_once_per_backoff(tmp_path: Path) -> None:
    path = _store(tmp_path)
    writer, backup = _wal_held_by_a_reader(path)  # a long read, like a backup
    checkpoints = WalCheckpointer(
        str(path), 1, "test-wal-backoff", limit_frames=LIMIT_FRAMES, truncate_wait_ms=300
    )

    def checkpoint_seconds() -> float:
        began = time.monotonic()
        _checkpoint(checkpoints)
        return time.monotonic() - began

    # The first truncation waits its 300 ms for the reader, then gives up...
    assert checkpoint_seconds() >= 0.25
    # ...and the next checkpoints, within the backoff, do not try again.
    assert checkpoint_seconds() < 0.25
    assert checkpoint_seconds() < 0.25
    backup.execute("COMMIT")
    writer.close()
    backup.close()


def test_begin_immediate_waits_for_the_other_writer_in_short_steps(tmp_path: Path) -> None:
    path = _store(tmp_path)
    other = connect(str(path))
    other.execute("BEGIN IMMEDIATE")
    released_at = 0.0

    def release_soon() -> None:
        nonlocal released_at
        time.sleep(0.29)
        released_at = time.monotonic()
        other.execute("COMMIT")

    thread = threading.Thread(target=release_soon)
    conn = connect(str(path))
    thread.start()
    begin_immediate(conn)
    began_at = time.monotonic()
    thread.join()
    assert released_at > 0, "began while the other writer held the lock"
    conn.execute("INSERT INTO t (body) VALUES (?)", (ROW,))
    conn.execute("COMMIT")
    # SQLite's own busy handler tries at 0, 1, 3, 8, … 278 and then 378 ms:
    # about 90 ms after the release; the short steps begin within a few ms.
    assert began_at - released_at < 0.02
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    other.close()
    conn.close()


def test_begin_immediate_gives_up_with_the_busy_error_after_its_timeout(tmp_path: Path) -> None:
    path = _store(tmp_path)
    other = connect(str(path))
    other.execute("BEGIN IMMEDIATE")
    conn = connect(str(path))
    with pytest.raises(sqlite3.OperationalError) as raised:
        begin_immediate(conn, timeout=0.05)
    assert raised.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert not conn.in_transaction
    other.execute("ROLLBACK")
    other.close()
    conn.close()


def test_a_failed_checkpoint_is_logged_and_left_for_the_next(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "gone" / "store.db"  # its folder does not exist: cannot be opened
    checkpoints = WalCheckpointer(str(missing), 1, "test-wal-failing")
    message = (
        f"a WAL checkpoint of {missing} failed (unable to open database file); the next"
        " one tries again, the WAL grows meanwhile"
    )
    with caplog.at_level("WARNING", logger="syncline.store"):
        _checkpoint(checkpoints)
        assert [r.getMessage() for r in caplog.records] == [message]
        # Not stuck after a failure: the next rows start another checkpoint.
        _checkpoint(checkpoints)
    assert [r.getMessage() for r in caplog.records] == [message, message]
