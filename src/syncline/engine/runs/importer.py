"""The import run: read a source target page by page and write it to a destination.

Per batch (see :mod:`.base` for reading, batching and checkpoints):

1. records are deduplicated by ID within the batch, the last version kept;
   across batches the destination's merge on the record ID keeps the last one
   written, which is the last one read — so memory holds one batch, not a set
   of every ID of the run;
2. validate → filter → map (:mod:`.steps`); bad records are per-record errors
   and the run goes on;
3. the batch is written through ``upsert()`` (:mod:`.writer`) by a writer
   task, while the next batch is read and transformed;
4. **checkpoint**: the cursor after the batch's last page, the batch's greatest
   ``updated_at``, the counts — and, with ``purge``, the batch's IDs — in one
   transaction. A crash after this point resumes after the batch; a crash
   before it re-reads and re-writes at most this batch (the write is an
   idempotent merge on ID).

When the read is done: with ``purge`` on a full run, destination records the
source no longer returned are deleted (``delete(target, ids)``); the
destination's optional ``finish(target)`` runs; then the caller finishes the
run, which promotes its high-water mark for the next incremental run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncline.engine.runs.base import BatchedRun
from syncline.engine.runs.steps import RecordSteps
from syncline.engine.runs.writer import BatchWriter, RunStopped
from syncline.sdk.records import Record
from syncline.types import JSON, Object, Property, Role, ValidationError, as_role

__all__ = ["PURGE_PAGE", "ImportRun"]

PURGE_PAGE = 1000
"""Record IDs purged per ``delete`` call."""


@dataclass(slots=True)
class _Prepared:
    """A transformed batch waiting for the writer task."""

    records: list[Record]
    cursor: str | None
    high_water: datetime | None
    seen_ids: list[str]


class ImportRun(BatchedRun):
    """One import run over opened connectors; :meth:`execute` does the whole run."""

    native_pages = True

    steps: RecordSteps
    writer: BatchWriter

    async def execute(self) -> None:
        """Read everything due, write it, purge if asked, and leave the run ready to finish.

        Raises :class:`.writer.RunStopped` for a run that cannot go on (a
        destination that cannot purge, refused credentials), and lets the
        source's typed errors through (the caller fails the run with them).
        """
        pipeline, config, tally = self.pipeline, self.config, self.tally
        target = pipeline.target
        source_schema = await self.source.instance.record_schema(target, Role.SOURCE)
        destination_schema = await self._destination_schema(source_schema)
        self.steps = RecordSteps(
            source_schema,
            self.source.spec.time_layouts,
            config.filter,
            config.mapping,
            destination_schema if config.mapping and destination_schema.properties else None,
            tally,
        )
        self.writer = BatchWriter(
            self.destination.instance, target, destination_schema, self.retry, tally
        )
        # Without a filter or a mapping, records are validated page by page as
        # they arrive (see prepare_page); the batch then only gathers them.
        self._page_validate = self.steps.validate if self.steps.passthrough else None
        self._unchecked: dict[int, Record] = {}
        # With a filter or a mapping: records of pages the reader validated,
        # held by object like _unchecked (their id() cannot be reused).
        self._checked: dict[int, Record] = {}
        self._queue: asyncio.Queue[_Prepared | None] = asyncio.Queue(maxsize=1)
        self._writing = asyncio.create_task(self._write_loop(), name="syncline-import-writer")
        try:
            try:
                await self.read_batches(source_schema)
            except Exception:
                # The batches read before the failure are good: write and
                # checkpoint them, so the next run resumes after them.
                with contextlib.suppress(Exception):
                    await self._hand_over(None)
                    await self._writing
                raise
            await self._hand_over(None)
            await self._writing
        finally:
            if not self._writing.done():
                self._writing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._writing
        if config.purge and self.run.full:
            await self._purge(target)
        finish = getattr(self.destination.instance, "finish", None)
        if callable(finish):
            began = time.perf_counter()
            await finish(target)
            tally.time("finish", time.perf_counter() - began)

    async def _destination_schema(self, source_schema: Object) -> Object:
        """What written attributes match (the schema handed to ``upsert``).

        Without a mapping, the source's schema. With one, the destination's
        schema; a destination with no schema yet (a table it creates on the
        first write) gets one built from the mapping: an output that is a bare
        source property keeps that property's type, any other output is a
        nullable JSON value (create the table beforehand for exact types).
        """
        mapping = self.config.mapping
        if not mapping:
            return as_role(source_schema, Role.DESTINATION)
        schema: Object = await self.destination.instance.record_schema(
            self.pipeline.target, Role.DESTINATION
        )
        if schema.properties:
            return schema
        by_name = {p.name: p for p in source_schema.properties}
        properties = []
        for output, expression in mapping.items():
            if "." in output:
                raise RunStopped(
                    f"pipeline {self.pipeline.name!r}: the destination has no columns yet, so "
                    f"mapping output {output!r} cannot be nested; create the table first"
                )
            found = by_name.get(expression.strip())
            kind = found.type if found is not None else JSON()
            properties.append(Property(output, kind, nullable=True))
        return Object(properties)

    async def write_batch(self, batch: dict[str, Record], cursor: str | None) -> None:
        """Transform the batch here, then queue it for the writer task.

        The writer task writes and checkpoints batches one at a time, in order,
        while this task reads and transforms the next one: the destination's
        own work (a database in its thread, a file's fsync) overlaps ours. A
        batch is handed over only once the writer is done with the previous
        one, so memory holds two batches (the one written, the one read) and
        one page read ahead.
        """
        out = self._transform(batch)
        seen = list(batch) if self.config.purge else []
        # The source's records are not kept past this point: only what is written.
        await self._hand_over(_Prepared(out, cursor, self.high_water_of(batch), seen))

    async def _hand_over(self, item: _Prepared | None) -> None:
        """Give ``item`` to the writer once it is idle; re-raise its error if it stopped."""
        writing = self._writing
        idle = asyncio.ensure_future(self._queue.join())
        done, _ = await asyncio.wait({idle, writing}, return_when=asyncio.FIRST_COMPLETED)
        if idle not in done:
            idle.cancel()
            writing.result()  # raises the writer's error
            raise RuntimeError("the import writer stopped before the read was done")
        self._queue.put_nowait(item)  # the queue is empty: the writer takes it at once

    async def _write_loop(self) -> None:
        while (item := await self._queue.get()) is not None:
            if item.records:
                written = len((await self.writer.write(item.records)).written)
                self.tally.add("written", written)
                # Freed now, while the destination's encoding has just read
                # them (in the CPU's caches), not after the checkpoint.
                item.records = []
            await self.checkpoint(item.cursor, item.high_water, item.seen_ids)
            del item  # the batch is not held while waiting for the next one
            self._queue.task_done()

    def prepare_page(self, records: list[Record], validated: bool) -> None:
        """Validate a page's records in place, while they are still in the CPU's caches.

        A page the reader ``validated`` (decoded natively against the schema)
        needs nothing more. Otherwise, without a filter and a mapping, every
        record is validated here (with them, :meth:`_transform` does every
        step per batch). A record that passes gets its normalized
        attributes; one that does not — a read error, no ID, a validation
        error — is kept aside untouched, and :meth:`_transform` takes it
        through the general path, which counts and stores its error only if
        it is still in the batch after deduplication (so a record replaced by
        a later version of the same ID is never counted as invalid). Held by
        object, so its ``id()`` cannot be reused while the batch is open.
        """
        validate = self._page_validate
        if validated:
            if validate is None:
                self._checked.update(zip(map(id, records), records, strict=True))
            return
        if validate is None:
            return
        began = time.perf_counter()
        unchecked = self._unchecked
        for record in records:
            if record.error is None and record.id:
                try:
                    record.attributes = validate(record.attributes)
                    continue
                except ValidationError:
                    pass
            unchecked[id(record)] = record
        self.tally.time("transform", time.perf_counter() - began)

    def _transform(self, batch: dict[str, Record]) -> list[Record]:
        """The batch's records to write, each carrying its destination attributes.

        The source's records are reused: their ``attributes`` are replaced by
        the transformed values (the engine owns a record once ``records()``
        returned it), so no second record is built per record. Records already
        validated by :meth:`prepare_page` are taken as they are.
        """
        tally = self.tally
        began = time.perf_counter()
        steps = self.steps
        prepared = self._page_validate is not None
        unchecked, self._unchecked = self._unchecked, {}
        checked, self._checked = self._checked, {}
        if prepared and not unchecked:
            # The common case: every record of the batch passed validation.
            out = list(batch.values())
            tally.add("transformed", len(out))
            tally.time("transform", time.perf_counter() - began)
            return out
        out = []
        append = out.append
        for record_id, record in batch.items():
            if prepared and id(record) not in unchecked:
                append(record)
                continue
            values: dict[str, Any] | None = (
                record.attributes
                if id(record) in checked
                else steps.source_values(record_id, record.attributes, record.error)
            )
            if values is not None:
                values = steps.destination_values(record_id, values)
            if values is None:
                continue
            record.attributes = values
            append(record)
        tally.add("transformed", len(out))
        tally.time("transform", time.perf_counter() - began)
        return out

    async def _purge(self, target: str) -> None:
        """Delete what this full read did not return, a page of IDs at a time.

        IDs are forgotten only after the destination deleted them, so a crash
        in between deletes them again on the next full run (deleting an absent
        record is a no-op for the destination).
        """
        runs = self.store.runs
        checkpoint = await runs.checkpoint_of(self.pipeline.id)
        delete = self.destination.instance.delete
        began = time.perf_counter()
        while True:
            ids = await runs.unseen_record_ids(
                self.pipeline.id, checkpoint.generation, limit=PURGE_PAGE
            )
            if not ids:
                break
            await delete(target, ids)
            await runs.forget_record_ids(self.pipeline.id, ids)
            self.tally.add("purged", len(ids))
            await runs.heartbeat(self.run.id, owner=self.owner)
        self.tally.time("purge", time.perf_counter() - began)
