"""Reading a source's pages ahead of the writer, without ever checkpointing ahead of it.

:class:`PageReader` calls ``records()`` in a task of its own and keeps up to
pages of at most ``ahead`` records in all (always at least one page) in a
queue, so fetching the next pages overlaps validating and writing the current
batch, and memory holds a bounded number of records whatever the page size. The cursor a page carries is the one to pass for the
*next* page; the run checkpoints it only after that page's records are written,
so reading ahead never moves the durable position past unwritten records.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncline.sdk.protocols import RecordsPage
from syncline.sdk.records import Record
from syncline.types import Object

__all__ = ["Page", "PageReader", "SourceContractError"]


class SourceContractError(RuntimeError):
    """The source's ``records()`` broke its contract (wrong return type); a connector bug."""


@dataclass(slots=True)
class Page:
    """One page as read: its records, the cursor after it, and whether the read is done."""

    records: list[Record]
    cursor: str | None
    done: bool
    seconds: float


class PageReader:
    """An async iterator of :class:`Page` values over one read of a source target.

    Errors ``records()`` raises are re-raised by ``__anext__`` in order, after
    the pages read before them. ``aclose()`` cancels the reading task; always
    call it (``async with``).
    """

    def __init__(
        self,
        source: Any,
        target: str,
        updated_at: datetime | None,
        cursor: str | None,
        schema: Object,
        *,
        ahead: int = 1000,
    ) -> None:
        self._source = source
        self._target = target
        self._updated_at = updated_at
        self._cursor = cursor
        self._schema = schema
        self._queue: asyncio.Queue[Page | BaseException | None] = asyncio.Queue()
        self._ahead = ahead
        self._queued = 0  # records in the queue
        self._room = asyncio.Event()
        self._room.set()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        cursor = self._cursor
        try:
            while True:
                began = time.perf_counter()
                page = await self._source.records(
                    self._target, self._updated_at, cursor, self._schema
                )
                if not isinstance(page, RecordsPage):
                    raise SourceContractError(
                        f"records() of the source returned {type(page).__name__}, not "
                        "RecordsPage(records, cursor, done); fix the connector"
                    )
                seconds = time.perf_counter() - began
                self._queued += len(page.records)
                self._queue.put_nowait(Page(page.records, page.cursor, page.done, seconds))
                if self._queued >= self._ahead:
                    self._room.clear()
                    await self._room.wait()
                if page.done:
                    break
                cursor = page.cursor
            self._queue.put_nowait(None)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self._queue.put_nowait(error)

    async def __aenter__(self) -> PageReader:
        self._task = asyncio.create_task(self._run(), name="syncline-page-reader")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def __aiter__(self) -> PageReader:
        return self

    async def __anext__(self) -> Page:
        item = await self._queue.get()
        if item is None:
            # Leave the sentinel for any later call: iteration stays ended.
            self._queue.put_nowait(None)
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        self._queued -= len(item.records)
        if self._queued < self._ahead:
            self._room.set()
        return item
