"""Crash-safe file writing: ``PATH.partial``, fsync per batch, atomic rename at the end.

A run writes records to ``PATH.partial``: each ``upsert`` call appends its
lines and fsyncs before it returns, so a batch the engine checkpoints is on
disk. When the run completes, ``finish`` renames the partial file over
``PATH`` (then fsyncs the directory): readers of ``PATH`` see the previous
complete file or the new complete file, never a half-written one.

After a crash the engine resumes the run and re-sends the last batch it had
not checkpointed, which may already be (partly) in the partial file. Two rules
make the result exact anyway:

* a torn tail (a record cut by the crash) is cut off when the partial file is
  first opened in a process, and such a partial file (a resumed run, which
  re-sends the batch it had not checkpointed) is marked as holding duplicates;
* otherwise every record ID written is remembered, as a hash, in a private
  temporary SQLite database on disk (its page cache is bounded, so memory does
  not grow with the file); when an ID is written again — a record the source
  returned twice in one run — the file is marked the same way.

The mark is a ``PATH.partial.dups`` file; with it, ``finish`` keeps only the
**last** line written for each ID, which is the version the source returned
last. That compaction also works on disk: the last position of each ID goes
to a temporary SQLite table, then the file is copied once, keeping the lines
at those positions.

Records without an ID cannot be told apart, so they are all kept. A partial
file left by a run that never finished is continued by the next run (its
records count as written by that run, and duplicates are resolved the same way);
delete ``PATH.partial`` to start over.

The state of each partial file lives in this process (a module-level registry
guarded by a lock), so several connector instances of one run agree on it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import BinaryIO

import orjson

__all__ = ["Entries", "PartialFile", "finish"]

Entries = Callable[[str], tuple[int, Iterator[tuple[int, int, str | None]]]]
"""Reads a partial file: the end offset of its header, and (start, end, record
ID or None) per complete record, stopping at the first torn or unreadable one."""


_CHUNK = 2_000
"""Rows per ``executemany`` into a temporary database."""


def _scratch() -> sqlite3.Connection:
    """A private temporary SQLite database on disk, deleted when closed or freed.

    Nothing in it needs to survive a crash, so it has no journal and no fsync;
    its page cache is capped at 4 MiB and the rest lives in the file.
    """
    db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-4096")
    return db


class _Seen:
    """The hashes of the record IDs written to one partial file, on disk.

    A hash is smaller than an ID; a collision only costs an unneeded
    compaction, which compares real IDs.
    """

    def __init__(self) -> None:
        self._db = _scratch()
        self._db.execute("CREATE TABLE seen (h INTEGER PRIMARY KEY)")

    def add(self, ids: Iterable[str | None]) -> bool:
        """Remember ``ids`` (None skipped); True when one was already seen or repeats."""
        # Sorted, so inserts walk the b-tree in order; handed over as one JSON
        # array, so no Python tuple per ID is built.
        hashes = sorted(map(hash, filter(None, ids)))
        if not hashes:
            return False
        db = self._db
        before = db.total_changes
        db.execute(
            "INSERT OR IGNORE INTO seen SELECT value FROM json_each(?)", (orjson.dumps(hashes),)
        )
        return db.total_changes - before != len(hashes)

    def close(self) -> None:
        self._db.close()


@dataclass
class _State:
    """What this process knows of one partial file.

    ``seen`` is None once ``duplicates`` is known: nothing more to find out.
    """

    size: int
    seen: _Seen | None = field(default_factory=_Seen)
    duplicates: bool = False

    def mark(self) -> None:
        self.duplicates = True
        if self.seen is not None:
            self.seen.close()
            self.seen = None


_lock = threading.Lock()
_states: dict[str, _State] = {}


def _fsync_directory(path: str) -> None:
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class PartialFile:
    """The partial file of ``path``, written in a worker thread (all methods block)."""

    path: str

    @property
    def partial(self) -> str:
        return self.path + ".partial"

    @property
    def marker(self) -> str:
        return self.path + ".partial.dups"

    def append(self, header: bytes, data: bytes, ids: list[str | None], entries: Entries) -> None:
        """Append ``data`` (records with the IDs ``ids``) durably; start the file with ``header``.

        An existing partial file must start with ``header`` (same columns),
        else ValueError.
        """
        with _lock:
            state = self._open(header, entries)
            if state.seen is not None and state.seen.add(ids):
                self._mark(state)
            try:
                with open(self.partial, "ab") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except BaseException:
                # The file may hold part of the batch: rescan it on the next call.
                _states.pop(self.partial, None)
                raise
            state.size += len(data)

    def _mark(self, state: _State) -> None:
        """Record durably that the partial file holds duplicate IDs."""
        if not os.path.exists(self.marker):
            with open(self.marker, "wb") as marker:
                os.fsync(marker.fileno())
            _fsync_directory(self.marker)
        state.mark()

    def _open(self, header: bytes | None, entries: Entries) -> _State:
        """The state of the partial file, created (``header`` given) or rescanned as needed."""
        state = _states.get(self.partial)
        exists = os.path.exists(self.partial)
        if state is not None and exists and os.path.getsize(self.partial) == state.size:
            return state
        if state is not None:
            # The file changed behind this process (or a write failed): start over.
            del _states[self.partial]
            if state.seen is not None:
                state.seen.close()
        if not exists:
            assert header is not None
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.marker)  # left by a finish interrupted after its rename
            with open(self.partial, "wb") as f:
                f.write(header)
                f.flush()
                os.fsync(f.fileno())
            _fsync_directory(self.partial)
            state = _states[self.partial] = _State(size=len(header))
            return state
        # A partial file this process does not know: a resumed run.
        if header is not None:
            with open(self.partial, "rb") as f:
                start = f.read(len(header))
            if start != header:
                raise ValueError(
                    f"{self.partial} was started with other columns by an unfinished run; "
                    "delete it to start the file over, or keep the pipeline's schema"
                )
        header_end, spans = entries(self.partial)
        state = _State(size=header_end, seen=None)
        for _start, end, _record_id in spans:
            state.size = end
        if os.path.getsize(self.partial) != state.size:
            os.truncate(self.partial, state.size)  # the torn tail of the crashed batch
            with open(self.partial, "rb+") as f:
                os.fsync(f.fileno())
        if header is not None:
            # A run resumes here: it re-sends the batch it had not checkpointed.
            self._mark(state)
        elif os.path.exists(self.marker):
            state.mark()
        _states[self.partial] = state
        return state


def finish(path: str, entries: Entries) -> bool:
    """Publish ``path``'s partial file as ``path``; False when there is none.

    With duplicate IDs (see the module), only the last line of each ID is
    kept, in the order of those last lines. Idempotent: a second call finds no
    partial file and returns False.
    """
    partial = PartialFile(path)
    with _lock:
        if not os.path.exists(partial.partial):
            return False
        if partial._open(None, entries).duplicates:
            _compact(partial.partial, entries)
        os.replace(partial.partial, path)
        _fsync_directory(path)
        state = _states.pop(partial.partial, None)
        if state is not None and state.seen is not None:
            state.seen.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial.marker)
        return True


def _compact(partial: str, entries: Entries) -> None:
    """Copy ``partial`` keeping the last line of each ID (and every line without one).

    One pass reads the file (its lines' IDs and byte ranges go to a temporary
    table); the copy then reads the kept ranges in file order, each run of
    adjacent kept lines as one range: a resumed run re-sends one batch, so
    nearly every line is kept and the copy is a few large ranges.
    """
    db = _scratch()
    try:
        # seq: the line's number; id: NULL for lines without one (all kept).
        db.execute(
            "CREATE TABLE line (seq INTEGER PRIMARY KEY, id TEXT, start INTEGER, end INTEGER)"
        )
        db.execute("CREATE TABLE last (id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID")
        header_end, spans = entries(partial)
        numbered = ((i, record_id, start, end) for i, (start, end, record_id) in enumerate(spans))
        db.execute("BEGIN")
        while chunk := list(islice(numbered, _CHUNK)):
            db.executemany("INSERT INTO line VALUES (?, ?, ?, ?)", chunk)
        db.execute(
            "INSERT OR REPLACE INTO last SELECT id, seq FROM line WHERE id IS NOT NULL ORDER BY seq"
        )
        db.execute("COMMIT")
        kept = db.execute(
            "SELECT start, end FROM line WHERE id IS NULL OR seq IN (SELECT seq FROM last)"
            " ORDER BY seq"
        )
        compacted = partial + ".compact"
        with open(partial, "rb") as source, open(compacted, "wb") as target:
            for start, end in _adjacent(chain([(0, header_end)], kept)):
                _copy(source, target, start, end)
            target.flush()
            os.fsync(target.fileno())
        os.replace(compacted, partial)
    finally:
        db.close()


def _adjacent(ranges: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """``ranges`` (in file order), each run of touching ranges joined into one."""
    start = end = -1
    for low, high in ranges:
        if low == end:
            end = high
            continue
        if end > start:
            yield start, end
        start, end = low, high
    if end > start:
        yield start, end


_COPY_CHUNK = 1 << 20
"""Bytes read and written at a time when copying a range of a file."""


def _copy(source: BinaryIO, target: BinaryIO, start: int, end: int) -> None:
    """Append bytes ``[start, end)`` of ``source`` to ``target``, a bounded chunk at a time."""
    source.seek(start)
    left = end - start
    while left > 0:
        data = source.read(min(left, _COPY_CHUNK))
        if not data:
            raise OSError(f"{source.name} ended before byte {end}: it changed during the copy")
        target.write(data)
        left -= len(data)
