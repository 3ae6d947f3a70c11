"""Group commit: many requests' events written by one durable transaction.

Each request hands its prepared rows to :meth:`GroupCommitter.submit` and waits.
A single writer task takes everything queued at that moment (up to
``max_commit_events``), appends it to the event log in one transaction and then
wakes every waiting request. While one commit waits on the disk, the next
requests queue up, so under load a single fsync covers many requests and the
cost of durability per event falls as load rises; with one client the latency is
one commit.

Order: requests are committed in the order they were submitted, and a request's
rows stay together and in order.

Failure: when the append fails (database down, disk full), every request of that
group gets the exception (the collector answers 503 and the client retries);
the transaction was rolled back, so none of their rows is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from syncline.store.event_log import EventLog, LogRow

__all__ = ["Backlog", "CommitterStopped", "GroupCommitter"]

log = logging.getLogger(__name__)


class CommitterStopped(Exception):
    """The collector is shutting down and takes no new events."""


@dataclass(slots=True)
class _Pending:
    rows: Sequence[LogRow]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommitter:
    """A queue of requests' rows drained by one writer task (see the module docs)."""

    def __init__(
        self,
        log: EventLog,
        max_commit_events: int,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        """``on_commit`` is called after each durable commit (e.g. to wake delivery
        at once instead of at its next poll); an exception it raises is logged and
        changes nothing for the requests of that commit."""
        self._log = log
        self._max = max_commit_events
        self._on_commit = on_commit
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.pending_events = 0
        """Events submitted and not yet committed (for the backlog check)."""
        self.commits = 0
        self.committed_events = 0

    def start(self) -> None:
        """Start the writer task (in the running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._write_loop(), name="syncline-group-commit")

    async def submit(self, rows: Sequence[LogRow]) -> None:
        """Queue ``rows`` and return once they are durably stored.

        Raises what the append raised (nothing of ``rows`` is stored then), or
        ``CommitterStopped`` once :meth:`stop` was called.
        """
        if self._closed or self._task is None:
            raise CommitterStopped
        pending = _Pending(rows)
        self.pending_events += len(rows)
        self._queue.put_nowait(pending)
        # Not shielded: a request cancelled while waiting cancels only its future;
        # its rows are still committed with the group (the client, having no
        # answer, sends them again: at-least-once).
        await pending.done

    async def stop(self) -> None:
        """Take no more rows, commit everything queued, then end the writer."""
        if self._task is None:
            return
        self._closed = True
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def _write_loop(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            group = [first]
            size = len(first.rows)
            stopping = False
            while size < self._max and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                group.append(item)
                size += len(item.rows)
            await self._commit(group, size)
            if stopping:
                # Everything queued before stop() is in this group: nothing is left.
                return

    async def _commit(self, group: list[_Pending], size: int) -> None:
        rows: list[LogRow] = []
        for pending in group:
            rows.extend(pending.rows)
        try:
            await self._log.append_rows(rows)
        except Exception as error:  # every waiter gets the failure; the writer goes on
            for pending in group:
                if not pending.done.done():
                    pending.done.set_exception(error)
        else:
            self.commits += 1
            self.committed_events += size
            for pending in group:
                if not pending.done.done():
                    pending.done.set_result(None)
            if self._on_commit is not None:
                try:
                    self._on_commit()
                except Exception:  # the events are stored: the callback cannot undo that
                    log.exception("the group commit's on_commit callback failed")
        finally:
            self.pending_events -= size


class Backlog:
    """A cheap estimate of how many events the log holds, for the 429 check.

    :meth:`refresh` reads the log's smallest and largest ids (two index look-ups)
    and takes their span as the size: delivery prunes from the oldest end, so
    the span is exact but for id gaps, and never too small. Only when the span
    reaches the bound is the log counted exactly, so a log with gaps is not
    refused by mistake. Between refreshes, committed events are added as they
    are committed.
    """

    def __init__(self, log: EventLog, bound: int) -> None:
        self._log = log
        self._bound = bound
        self.size = 0

    async def refresh(self) -> None:
        low, high = await self._log.min_id(), await self._log.max_id()
        span = 0 if high == 0 else high - low + 1
        self.size = await self._log.count() if span >= self._bound else span

    def added(self, events: int) -> None:
        self.size += events
