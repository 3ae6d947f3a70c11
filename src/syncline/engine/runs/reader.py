"""Reading a source's pages ahead of the writer, without ever checkpointing ahead of it.

:class:`PageReader` calls ``records()`` in a task of its own and keeps up to
pages of at most ``ahead`` records in all (always at least one page) in a
queue, so fetching the next pages overlaps validating and writing the current
batch, and memory holds a bounded number of records whatever the page size. The cursor a page carries is the one to pass for the
*next* page; the run checkpoints it only after that page's records are written,
so reading ahead never moves the durable position past unwritten records.

A page a connector returns with ``RecordsPage.from_json`` is decoded here, in
the reading task. Given ``layouts`` (``native=True``), it is decoded against
the read's schema: a page whose every item is valid comes out already
validated and normalized (``Page.validated``), in the same native pass that
parses it; any other page is decoded generically, for the run to validate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncline.sdk.json_records import decode
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.records import Record
from syncline.types import Object, TimeLayouts

__all__ = ["Page", "PageReader", "SourceContractError"]


class SourceContractError(RuntimeError):
    """The source's ``records()`` broke its contract (wrong return type); a connector bug."""


@dataclass(slots=True)
class Page:
    """One page as read: its records, the cursor after it, and whether the read is done.

    ``validated``: every record's attributes are what the run's validator
    (the read's schema and ``layouts``) returns for them, and each has an ID
    and no error; the run need not validate them again.
    """

    records: list[Record]
    cursor: str | None
    done: bool
    seconds: float
    validated: bool = False


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
        native: bool = False,
        layouts: TimeLayouts | None = None,
    ) -> None:
        self._source = source
        self._target = target
        self._updated_at = updated_at
        self._cursor = cursor
        self._schema = schema
        self._native = native
        self._layouts = layouts
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
                body = page.json
                if body is not None:
                    decoded = decode(body, self._schema, self._layouts, native=self._native)
                    read = Page(
                        decoded.records, decoded.cursor, decoded.done, 0.0, decoded.validated
                    )
                else:
                    read = Page(page.records, page.cursor, page.done, 0.0)
                read.seconds = time.perf_counter() - began
                self._queued += len(read.records)
                self._queue.put_nowait(read)
                if self._queued >= self._ahead:
                    self._room.clear()
                    await self._room.wait()
                if read.done:
                    break
                cursor = read.cursor
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
