"""What import and export runs share: where the read starts, batching, checkpoints.

A run reads its source target with :class:`.reader.PageReader`, collects pages
into a batch until it holds ``batch_size`` records or the read is done (a batch
always ends at a page boundary, so the cursor after it is a valid place to
resume), hands the batch to the subclass, and checkpoints after it.
Deduplication by record ID happens within the batch, keeping the last version.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from syncline.engine.config.model import PipelineConfig
from syncline.engine.runs.config import RetrySettings
from syncline.engine.runs.reader import PageReader
from syncline.engine.runs.tally import Tally
from syncline.sdk.records import Record
from syncline.store import Checkpoint, Pipeline, Run, Store
from syncline.types import Object

__all__ = ["READ_AHEAD", "BatchedRun", "Progress"]

_ID = attrgetter("id")
_UPDATED_AT = attrgetter("updated_at")

Progress = Callable[[Tally], None]

READ_AHEAD = 1000
"""Records read ahead of the batch being collected, at most (always at least one page).

One page in flight is enough for the next request to overlap the work on the
current page; more would only hold more records in memory."""


class BatchedRun(ABC):
    """Base of :class:`.importer.ImportRun` and :class:`.exporter.ExportRun`.

    ``source`` and ``destination`` are opened connectors
    (:class:`syncline.engine.connections.OpenConnector`): ``.instance`` and
    ``.spec`` are used.
    """

    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        config: PipelineConfig,
        run: Run,
        owner: str,
        source: Any,
        destination: Any,
        tally: Tally,
        *,
        progress: Progress | None = None,
        retry: RetrySettings | None = None,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.config = config
        self.run = run
        self.owner = owner
        self.source = source
        self.destination = destination
        self.tally = tally
        self.progress = progress
        self.retry = retry or RetrySettings()

    def since(self, checkpoint: Checkpoint) -> datetime | None:
        """Where the read starts: everything on a full run, else the mark minus the overlap."""
        if self.run.full or checkpoint.high_water is None:
            return None
        return checkpoint.high_water - timedelta(seconds=self.config.overlap_seconds)

    async def read_batches(self, schema: Object) -> None:
        """Read the source from the checkpoint on, calling :meth:`write_batch` per batch."""
        tally = self.tally
        checkpoint = await self.store.runs.checkpoint_of(self.pipeline.id)
        since = self.since(checkpoint)
        cursor = checkpoint.cursor if self.run.resumed_from_run_id is not None else None
        batch: dict[str, Record] = {}
        read_in_batch = 0
        size = self.config.batch_size
        async with PageReader(
            self.source.instance,
            self.pipeline.target,
            since,
            cursor,
            schema,
            ahead=min(size, READ_AHEAD),
            native=self.native_pages,
            layouts=self.source.spec.time_layouts,
        ) as reader:
            async for page in reader:
                tally.time("read", page.seconds)
                records = page.records
                self.prepare_page(records, page.validated)
                read_in_batch += len(records)
                # Per page, not per record: a later version replaces an earlier
                # one in place (the key keeps its first position), as one
                # assignment per record would.
                before = len(batch)
                batch.update(zip(map(_ID, records), records, strict=True))
                duplicates = before + len(records) - len(batch)
                if duplicates:
                    tally.add("duplicate", duplicates)
                if not page.done:
                    cursor = page.cursor
                if len(batch) >= size or page.done:
                    tally.add("read", read_in_batch)
                    read_in_batch = 0
                    full, batch = batch, {}
                    await self.write_batch(full, cursor)
                    del full

    native_pages: bool = False
    """Decode ``RecordsPage.from_json`` pages against the read's schema (see
    :mod:`.reader`), so that pages whose items are all valid arrive validated."""

    def prepare_page(self, records: list[Record], validated: bool) -> None:
        """Work on a page's records as soon as it is read (default: nothing).

        Called once per page, in read order, before the page joins its batch
        (so before deduplication); a batch is the pages prepared since the
        previous one. A page's records are still in the CPU's caches here.
        ``validated`` is the reader's ``Page.validated``.
        """
        return None

    @abstractmethod
    async def write_batch(self, batch: dict[str, Record], cursor: str | None) -> None:
        """Process and write one batch (``{id: record}``), then call :meth:`checkpoint`."""

    @staticmethod
    def high_water_of(batch: dict[str, Record]) -> datetime | None:
        """The greatest ``updated_at`` of the batch's records (None when none has one)."""
        # A datetime is never false, so filter(None, ...) drops exactly the Nones;
        # max() keeps the first of equal values, as a strict > scan does.
        stamps = filter(None, map(_UPDATED_AT, batch.values()))
        return max(stamps, default=None)

    async def checkpoint(
        self, cursor: str | None, high_water: datetime | None, seen_ids: Iterable[str] = ()
    ) -> None:
        """Durably record a batch: the cursor after it, its greatest ``updated_at``, totals."""
        tally = self.tally
        await self.store.runs.checkpoint(
            self.run.id,
            owner=self.owner,
            cursor=cursor,
            high_water=high_water,
            seen_record_ids=seen_ids,
            counts=tally.counts_now(),
            error_groups=tally.error_groups(),
            timings=tally.timings_now(),
        )
        if self.progress is not None:
            self.progress(tally)
