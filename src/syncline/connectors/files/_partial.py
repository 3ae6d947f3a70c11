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
  first opened in a process;
* every record ID written is remembered, as a hash (rebuilt from the file
  after a crash); when an ID is written again — a re-sent batch, or a record
  the source returned twice in one run — a ``PATH.partial.dups`` marker is
  created and ``finish`` keeps only the **last** line written for each ID,
  which is the version the source returned last.

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
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["Entries", "PartialFile", "finish"]

Entries = Callable[[str], tuple[int, Iterator[tuple[int, int, str | None]]]]
"""Reads a partial file: the end offset of its header, and (start, end, record
ID or None) per complete record, stopping at the first torn or unreadable one."""


@dataclass
class _State:
    """What this process knows of one partial file.

    ``ids`` holds the hashes of the record IDs written (smaller than the IDs;
    a collision only costs an unneeded compaction, which compares real IDs).
    """

    size: int
    ids: set[int] = field(default_factory=set)
    duplicates: bool = False


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
            seen = state.ids
            before = len(seen)
            fresh = [hash(record_id) for record_id in ids if record_id is not None]
            seen.update(fresh)
            duplicate = len(seen) - before != len(fresh)
            if duplicate and not state.duplicates:
                with open(self.marker, "wb") as marker:
                    os.fsync(marker.fileno())
                _fsync_directory(self.marker)
                state.duplicates = True
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

    def _open(self, header: bytes | None, entries: Entries) -> _State:
        """The state of the partial file, created (``header`` given) or rescanned as needed."""
        state = _states.get(self.partial)
        exists = os.path.exists(self.partial)
        if state is not None and exists and os.path.getsize(self.partial) == state.size:
            return state
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
        state = _State(size=header_end, duplicates=os.path.exists(self.marker))
        for _start, end, record_id in spans:
            state.size = end
            if record_id is not None:
                digest = hash(record_id)
                if digest in state.ids:
                    state.duplicates = True
                state.ids.add(digest)
        if os.path.getsize(self.partial) != state.size:
            os.truncate(self.partial, state.size)  # the torn tail of the crashed batch
            with open(self.partial, "rb+") as f:
                os.fsync(f.fileno())
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
        _states.pop(partial.partial, None)
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial.marker)
        return True


def _compact(partial: str, entries: Entries) -> None:
    header_end, found = entries(partial)
    spans = list(found)
    last: dict[str, int] = {}
    for i, (_start, _end, record_id) in enumerate(spans):
        if record_id is not None:
            last[record_id] = i
    compacted = partial + ".compact"
    with open(partial, "rb") as source, open(compacted, "wb") as target:
        target.write(source.read(header_end))
        for i, (start, end, record_id) in enumerate(spans):
            if record_id is not None and last[record_id] != i:
                continue
            source.seek(start)
            target.write(source.read(end - start))
        target.flush()
        os.fsync(target.fileno())
    os.replace(compacted, partial)
