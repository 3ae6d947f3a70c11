"""The export run: read rows from a source and create or update the app's records.

Matching. The pipeline's ``matching`` (required unless ``mode: create``) names an app property (an email, an
external ID). The store's identity map holds, per pipeline, each app record's
value of that property → the app's record ID. It is refreshed incrementally
through the app's own ``records(target, updated_at=mark)``, from the mark the
last refresh reached (``Identities.high_water``), never by a full re-read:

* at the start of every run (it also picks up records a crashed run created);
* after every batch that created records — this is how the engine learns the
  IDs of created records: the app reports them through ``records()``, and no
  connector method has to return them;
* before retrying records that failed with a retryable error, so a create
  whose response was lost but which reached the app becomes an update.

Per batch (reading, batching and checkpoints: :mod:`.base`):

1. validate → filter → map (:mod:`.steps`); the mapped value of the matching
   property is the row's matching value (a row without one is invalid);
2. rows are deduplicated by matching value within the batch (the last row
   wins), so one batch never creates the same record twice;
3. the identity map decides: a known value is an update of that app ID, an
   unknown one a create; the export ``mode`` skips creates (``update``) or
   updates (``create``);
4. the attributes are checked against the app's destination schema compiled
   for the operation (required properties differ for create and update);
5. ``upsert()`` through ``Records`` (:mod:`.writer`): retryable failures are
   retried with bounded backoff, permanent ones are stored with their fixed
   messages; the sample ID of an error group is the source row's ID;
6. checkpoint. A crash before the checkpoint re-sends at most this batch, and
   its creates that reached the app are updates then (step 3 after the
   refresh at the start of the resumed run). Without ``matching`` (create
   only) there is nothing to match with: re-sent creates are created again
   unless the app rejects duplicates itself.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from syncline.engine.runs.base import BatchedRun
from syncline.engine.runs.reader import PageReader
from syncline.engine.runs.steps import RecordSteps
from syncline.engine.runs.writer import BatchWriter, RunStopped
from syncline.sdk.records import Record
from syncline.types import Object, Role, ValidationError, Validator, compile

__all__ = ["ExportRun"]


def matching_key(value: Any) -> str:
    """The identity map's form of a matching value: its canonical text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ExportRun(BatchedRun):
    """One export run over opened connectors; :meth:`execute` does the whole run."""

    steps: RecordSteps
    writer: BatchWriter
    matching: str
    check_create: Validator
    check_update: Validator
    identity_schema: Object
    labels: dict[int, tuple[str, str]]

    async def execute(self) -> None:
        """Refresh the identity map, then read, match and write every batch due."""
        pipeline, config = self.pipeline, self.config
        target = pipeline.target
        app = self.destination.instance
        code = self.destination.spec.code
        self.matching = config.matching or ""
        app_schema = await app.record_schema(target, Role.DESTINATION)
        read_schema = await app.record_schema(target, Role.SOURCE)
        found = [p for p in read_schema.properties if p.name == self.matching]
        if self.matching and not found:
            raise RunStopped(
                f"the matching property {self.matching!r} of pipeline {pipeline.name!r} is not "
                f"a {target} property the app {code!r} returns; choose one of: "
                + ", ".join(p.name for p in read_schema.properties)
            )
        self.identity_schema = Object(found)
        self.check_create = compile(app_schema, operation="create")
        self.check_update = compile(app_schema, operation="update")
        source_schema = await self.source.instance.record_schema(target, Role.SOURCE)
        self.steps = RecordSteps(
            source_schema,
            self.source.spec.time_layouts,
            config.filter,
            config.mapping,
            None,
            self.tally,
        )
        self.writer = BatchWriter(
            app,
            target,
            app_schema,
            self.retry,
            self.tally,
            label_of=self._label,
            before_retry=self._before_retry,
        )
        self.labels = {}
        await self.refresh_identities()
        await self.read_batches(source_schema)

    def _label(self, record: Record) -> str | None:
        entry = self.labels.get(id(record))
        return entry[0] if entry is not None else (record.id or None)

    async def refresh_identities(self) -> None:
        """Read app records changed since the map's mark; store their matching values.

        Without a matching property (``mode: create`` only) there is no map.
        """
        if not self.matching:
            return
        began = time.perf_counter()
        pipeline_id = self.pipeline.id
        identities = self.store.identities
        mark = await identities.high_water(pipeline_id)
        newest = mark
        name = self.matching
        async with PageReader(
            self.destination.instance, self.pipeline.target, mark, None, self.identity_schema
        ) as reader:
            async for page in reader:
                pairs = []
                for record in page.records:
                    if record.error is not None or not record.id:
                        continue
                    value = record.attributes.get(name)
                    if value is not None:
                        pairs.append((matching_key(value), record.id))
                    if record.updated_at is not None and (
                        newest is None or record.updated_at > newest
                    ):
                        newest = record.updated_at
                if pairs:
                    await identities.upsert(pipeline_id, pairs)
        if newest != mark:
            await identities.set_high_water(pipeline_id, newest)
        self.tally.time("match", time.perf_counter() - began)

    async def write_batch(self, batch: dict[str, Record], cursor: str | None) -> None:
        tally = self.tally
        began = time.perf_counter()
        by_key: dict[str, tuple[str, dict[str, Any]]] = {}
        source_values = self.steps.source_values
        destination_values = self.steps.destination_values
        for row_id, row in batch.items():
            values = source_values(row_id, row.attributes, row.error)
            if values is None:
                continue
            values = destination_values(row_id, values)
            if values is None:
                continue
            if not self.matching:
                # Create-only without matching: every row is its own record.
                by_key[row_id] = (row_id, values)
                continue
            value = values.get(self.matching)
            if value is None:
                tally.add("invalid")
                tally.error(f'the matching property "{self.matching}" has no value', row_id)
                continue
            key = matching_key(value)
            if key in by_key:
                tally.add("duplicate")
            by_key[key] = (row_id, values)
        tally.add("transformed", len(by_key))
        known = (
            await self.store.identities.lookup(self.pipeline.id, list(by_key))
            if self.matching
            else {}
        )
        out: list[Record] = []
        self.labels = {}
        mode = self.config.mode
        for key, (row_id, values) in by_key.items():
            app_id = known.get(key, "")
            if (mode == "create" and app_id) or (mode == "update" and not app_id):
                tally.add("skipped")
                continue
            record = self._record(row_id, key, app_id, values)
            if record is not None:
                out.append(record)
        tally.time("transform", time.perf_counter() - began)
        if out:
            result = await self.writer.write(out)
            created = sum(1 for record in result.written if not record.id)
            tally.add("written", len(result.written))
            tally.add("created", created)
            tally.add("updated", len(result.written) - created)
            if created:
                await self.refresh_identities()
        await self.checkpoint(cursor, self.high_water_of(batch))

    def _record(self, row_id: str, key: str, app_id: str, values: dict[str, Any]) -> Record | None:
        check = self.check_update if app_id else self.check_create
        try:
            attributes = check(values)
        except ValidationError as invalid:
            self.tally.add("invalid")
            operation = "update" if app_id else "create"
            self.tally.error(f"cannot {operation} the app record: {invalid}", row_id)
            return None
        record = Record(app_id, attributes)
        self.labels[id(record)] = (row_id, key)
        return record

    async def _before_retry(self, records: list[Record]) -> list[Record]:
        """Turn retried creates that reached the app into updates (see the module doc)."""
        if not any(not record.id for record in records):
            return records
        await self.refresh_identities()
        keys = [self.labels[id(r)][1] for r in records if not r.id and id(r) in self.labels]
        known = await self.store.identities.lookup(self.pipeline.id, keys)
        retried: list[Record] = []
        for record in records:
            entry = self.labels.get(id(record))
            app_id = known.get(entry[1], "") if entry is not None and not record.id else ""
            # A create that reached the app is re-sent as an update with the same
            # values (also in create-only mode): writing them again is harmless.
            if app_id and entry is not None:
                replacement = Record(app_id, record.attributes)
                self.labels[id(replacement)] = entry
                retried.append(replacement)
            else:
                retried.append(record)
        return retried
