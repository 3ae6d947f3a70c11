"""Checks of RecordFetcher: every page, resuming, incremental reads, the app's updated_at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncline.testing._acceptance.base import AcceptanceBase
from syncline.testing._acceptance.harness import (
    Harness,
)

__all__ = ["ReadChecks"]


class ReadChecks(AcceptanceBase):
    """Checks of connectors that read records (skipped without source targets)."""

    def test_read_every_page(self) -> None:
        """Rule: a read returns every record of the app, page after page, until done."""

        async def scenario(h: Harness) -> None:
            self._require(h, "source")
            for target in h.source_targets():
                connector, _ = await h.connect()
                records, pages = await h.read_all(connector, target)
                got = {r.id for r in records}
                want = set(h.sandbox.ids(target))
                assert all(r.id for r in records), (
                    f"records({target!r}) returned a record with an empty id: give every "
                    "record the app's own ID"
                )
                missing = sorted(want - got)
                assert not missing, (
                    f"a full read of {target!r} in {len(pages)} page(s) missed {len(missing)} "
                    f"of {len(want)} records (e.g. IDs {missing[:5]}): follow the app's "
                    "pagination to the last page and only then return done=True"
                )
                extra = sorted(got - want)
                assert not extra, (
                    f"records({target!r}) returned IDs the app does not have: {extra[:5]}"
                )

        self.run(scenario)

    def test_resume_from_checkpoint(self) -> None:
        """Rule: a cursor is valid in a new process: a new instance continues the read without loss."""

        async def scenario(h: Harness) -> None:
            self._require(h, "source")
            for target in h.source_targets():
                first, _ = await h.connect()
                head, pages = await h.read_all(first, target, pages=1)
                if pages[-1].done:
                    pytest.fail(
                        f"the read of {target!r} took one page for {self.records} records, so "
                        "resuming cannot be checked: set `records` on the test class above the "
                        "connector's page size"
                    )
                second, _ = await h.connect()  # another instance, another client: a restart
                tail, _ = await h.read_all(second, target, cursor=pages[-1].cursor)
                missing = sorted(set(h.sandbox.ids(target)) - {r.id for r in head + tail})
                assert not missing, (
                    f"after resuming {target!r} from the first page's cursor in a new "
                    f"instance, {len(missing)} records were never read (e.g. {missing[:5]}): "
                    "the cursor must hold everything needed to continue (no state on the instance)"
                )

        self.run(scenario)

    def test_incremental_reread_returns_changes(self) -> None:
        """Rule: records() with updated_at returns every record changed at or after it."""

        async def scenario(h: Harness) -> None:
            self._require(h, "source")
            for target in h.source_targets():
                connector, _ = await h.connect()
                records, _ = await h.read_all(connector, target)
                marks = [r.updated_at for r in records if r.updated_at is not None]
                high = max(marks) if marks else datetime.now(UTC) - timedelta(days=1)
                touched = h.sandbox.touch(target, self.touched)
                again, _ = await h.read_all(connector, target, updated_at=high)
                got = {r.id: r for r in again}
                missing = [i for i in touched if i not in got]
                assert not missing, (
                    f"an incremental read of {target!r} since {high.isoformat()} missed records "
                    f"changed after it (IDs {missing}): filter on the app's change time, at or "
                    "after updated_at, and page through all of it"
                )
                stale = [
                    i
                    for i in touched
                    if h.sandbox.updated_at_of(target, i) is not None
                    and (got[i].updated_at or high) <= high
                ]
                assert not stale, (
                    f"records {stale} of {target!r} were changed after {high.isoformat()} but "
                    "were read with an older updated_at: return the app's current change time"
                )

        self.run(scenario)

    def test_updated_at_is_the_apps_value(self) -> None:
        """Rule: each record carries the app's real updated_at, never the time of the read."""

        async def scenario(h: Harness) -> None:
            self._require(h, "source")
            for target in h.source_targets():
                connector, _ = await h.connect()
                records, _ = await h.read_all(connector, target)
                for record in records:
                    app = h.sandbox.updated_at_of(target, record.id)
                    got = record.updated_at
                    if app is None:
                        assert got is None, (
                            f"record {record.id} of {target!r} has updated_at "
                            f"{got.isoformat()} but the app keeps no change time for it: leave "
                            "updated_at None rather than inventing one (never now())"
                        )
                        continue
                    assert got is not None and got.tzinfo is not None, (
                        f"record {record.id} of {target!r} has updated_at={got!r}: give every "
                        "record the app's change time as an aware datetime"
                    )
                    assert abs(got - app) <= timedelta(milliseconds=1), (
                        f"record {record.id} of {target!r} has updated_at {got.isoformat()} but "
                        f"the app says {app.isoformat()}: return the app's value, never now() — "
                        "a faked change time turns every incremental read into a full one"
                    )

        self.run(scenario)
