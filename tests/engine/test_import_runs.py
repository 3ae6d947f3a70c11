"""Import runs through ``syncline run``: crm test app over HTTP → SQLite table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import testconnector.connector  # noqa: F401 - registers crm-test
from testconnector.world import World, import_world, table_rows

import syncline.connectors.sqlite  # noqa: F401 - registers the destination
from syncline.engine.runs.base import BatchedRun
from syncline.sdk.records import Record


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await import_world(tmp_path, 3000, overlap_seconds=0)
    try:
        yield w
    finally:
        await w.server.stop()


def _app_rows(world: World) -> list[tuple[object, ...]]:
    return sorted(
        (r["id"], r["email"], r["name"], r["plan"], r["score"]) for r in world.app.contacts.values()
    )


def _dest_rows(world: World) -> list[tuple[object, ...]]:
    rows = table_rows(world.db, "contacts")
    return sorted((r[0], r[1], r[2], r[3], r[4]) for r in rows)


async def test_full_import_writes_every_record_and_reports_counts(world: World) -> None:
    result = await world.ws.cli("run", "contacts", "--json")
    assert result.code == 0, result.stderr
    summary = result.json()
    assert summary["status"] == "succeeded"
    assert summary["full"] is True
    counts = summary["counts"]
    assert counts["read"] == 3000
    assert counts["written"] == 3000
    assert counts["invalid"] == counts["failed"] == 0
    assert summary["timings"]["total"] > 0
    assert _dest_rows(world) == _app_rows(world)


async def test_incremental_run_reads_only_changes_and_matches_a_full_reimport(
    world: World, tmp_path: Path
) -> None:
    assert (await world.ws.cli("run", "contacts")).code == 0
    for i in range(1, 41):
        world.app.change(f"c{i}", name=f"Renamed {i}", score=99)
    world.app.seed(10, start=5000)
    result = await world.ws.cli("run", "contacts", "--json")
    assert result.code == 0, result.stderr
    summary = result.json()
    assert summary["full"] is False
    # overlap 0: the 40 changed and 10 new records, plus the one record whose
    # updated_at is the mark itself (reads are "at or after" the mark).
    assert summary["counts"]["read"] == 51
    assert _dest_rows(world) == _app_rows(world)

    # A full re-import into a fresh table gives the same rows.
    store = await world.store()
    try:
        await world.ws.pipeline(
            store,
            "again",
            kind="import",
            source="crm",
            destination="db",
            destination_options={"table": "again", "create_table": True},
        )
    finally:
        await store.close()
    assert (await world.ws.cli("run", "again")).code == 0
    again = sorted((r[0], r[1], r[2], r[3], r[4]) for r in table_rows(world.db, "again"))
    assert again == _dest_rows(world)


async def test_overlap_rereads_records_changed_just_before_the_mark(tmp_path: Path) -> None:
    world = await import_world(tmp_path, 500, overlap_seconds=3600)
    try:
        assert (await world.ws.cli("run", "contacts")).code == 0
        world.app.change("c7", name="Changed")
        summary = (await world.ws.cli("run", "contacts", "--json")).json()
        # Every seeded record is within the hour before the mark: all are read again.
        assert summary["counts"]["read"] == 500
        assert summary["counts"]["written"] == 500
        assert ("c7", "Changed") in [(r[0], r[2]) for r in table_rows(world.db, "contacts")]
    finally:
        await world.server.stop()


async def test_invalid_records_are_grouped_errors_without_values_and_the_run_goes_on(
    world: World,
) -> None:
    world.app.change("c5", score="not-a-number")
    world.app.change("c6", score="also-bad")
    summary = (await world.ws.cli("run", "contacts", "--json")).json()
    assert summary["status"] == "succeeded"
    assert summary["counts"]["invalid"] == 2
    assert summary["counts"]["written"] == 2998
    [group] = summary["errors"]
    assert group["count"] == 2
    assert group["sample_record_id"] in ("c5", "c6")
    assert "score" in group["message"]
    assert "not-a-number" not in group["message"] and "also-bad" not in group["message"]


async def test_filter_and_mapping_apply_before_the_write(tmp_path: Path) -> None:
    world = await import_world(
        tmp_path,
        300,
        filter="plan = 'pro'",
        mapping={"email": "upper(email)", "name": "name", "plan": "plan", "score": "score"},
    )
    try:
        summary = (await world.ws.cli("run", "contacts", "--json")).json()
        assert summary["status"] == "succeeded", summary
        assert summary["counts"]["filtered"] == 200
        assert summary["counts"]["transformed"] == 100
        rows = table_rows(world.db, "contacts")
        assert len(rows) == 100
        assert all(r[1] == r[1].upper() and r[3] == "pro" for r in rows)
    finally:
        await world.server.stop()


async def test_duplicates_keep_the_last_version_within_and_across_batches(
    world: World, tmp_path: Path
) -> None:
    # The app changes c1 while the read is under way: it shows up twice, in the
    # first and the last batch; the destination's merge keeps the last.
    _change_midway(world, "c1")
    summary = (await world.ws.cli("run", "contacts", "--json", "--full")).json()
    assert summary["counts"]["read"] == 3001
    assert summary["counts"]["duplicate"] == 0
    rows = {r[0]: r[2] for r in table_rows(world.db, "contacts")}
    assert rows["c1"] == "Latest"
    assert len(rows) == 3000

    # With one batch for the whole read, the batch keeps only the last version.
    store = await world.store()
    try:
        await world.ws.pipeline(
            store,
            "one-batch",
            kind="import",
            source="crm",
            destination="db",
            batch_size=10_000,
            destination_options={"table": "one_batch", "create_table": True},
        )
    finally:
        await store.close()
    _change_midway(world, "c2")
    summary = (await world.ws.cli("run", "one-batch", "--json")).json()
    assert summary["counts"]["read"] == 3001
    assert summary["counts"]["duplicate"] == 1
    assert summary["counts"]["written"] == 3000
    rows = {r[0]: r[2] for r in table_rows(world.db, "one_batch")}
    assert rows["c2"] == "Latest"
    assert len(rows) == 3000


def _change_midway(world: World, record_id: str) -> None:
    """Change ``record_id`` right after the first page of each read is answered."""
    original = world.app._list

    def list_and_change(request):  # type: ignore[no-untyped-def]
        page = original(request)
        if "after" not in request.params:
            world.app.change(record_id, name="Latest")
        return page

    world.server.route("GET", "/contacts", list_and_change)


async def test_a_failing_source_fails_the_run_with_exit_1_and_the_next_run_resumes(
    world: World,
) -> None:
    pages = {"n": 0}
    original = world.app._list

    def third_page_breaks(request):  # type: ignore[no-untyped-def]
        pages["n"] += 1
        if pages["n"] == 3:
            return 404
        return original(request)

    world.server.route("GET", "/contacts", third_page_breaks)
    failed = await world.ws.cli("run", "contacts", "--json")
    assert failed.code == 1
    summary = failed.json()
    assert summary["status"] == "failed"
    assert "HTTP 404" in summary["error"]
    assert summary["counts"]["written"] == 1000
    world.server.route("GET", "/contacts", original)
    resumed = (await world.ws.cli("run", "contacts", "--json")).json()
    assert resumed["status"] == "succeeded"
    assert resumed["resumed_from"] == summary["run"]
    assert _dest_rows(world) == _app_rows(world)


async def test_unknown_pipeline_exits_2(world: World) -> None:
    result = await world.ws.cli("run", "nope")
    assert result.code == 2
    assert "nope" in result.stderr


def test_high_water_is_the_greatest_updated_at_ignoring_records_without_one() -> None:
    early, late = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)
    batch = {
        "a": Record("a", {}, None),
        "b": Record("b", {}, late),
        "c": Record("c", {}, early),
        "d": Record("d", {}),
    }
    assert BatchedRun.high_water_of(batch) is late
    assert BatchedRun.high_water_of({"a": Record("a", {})}) is None
    assert BatchedRun.high_water_of({}) is None


async def test_an_invalid_version_replaced_in_its_batch_is_not_counted(world: World) -> None:
    # Records are validated page by page, before the batch drops duplicates:
    # an invalid first version of c2, replaced later in the same batch by a
    # valid one, must count as a duplicate, never as invalid; an invalid last
    # version is the one the batch keeps, so it counts once.
    store = await world.store()
    try:
        await world.ws.pipeline(
            store,
            "one-batch",
            kind="import",
            source="crm",
            destination="db",
            batch_size=10_000,
            destination_options={"table": "one_batch", "create_table": True},
        )
    finally:
        await store.close()
    original = world.app._list

    def change_after_first_page(record_id: str, score: object):  # type: ignore[no-untyped-def]
        def list_and_change(request):  # type: ignore[no-untyped-def]
            page = original(request)
            if "after" not in request.params:
                world.app.change(record_id, name="Latest", score=score)
            return page

        return list_and_change

    # In place, keeping its updated_at: c2 stays in the first page.
    world.app.contacts["c2"] = {**world.app.contacts["c2"], "score": "not-a-number"}
    world.server.route("GET", "/contacts", change_after_first_page("c2", 7))
    summary = (await world.ws.cli("run", "one-batch", "--json", "--full")).json()
    assert summary["counts"]["read"] == 3001
    assert summary["counts"]["duplicate"] == 1
    assert summary["counts"]["invalid"] == 0, summary["errors"]
    assert summary["counts"]["written"] == 3000
    rows = {r[0]: (r[2], r[4]) for r in table_rows(world.db, "one_batch")}
    assert rows["c2"] == ("Latest", 7)

    # Now c3's first version, valid, is replaced later in the batch by an invalid one.
    world.server.route("GET", "/contacts", change_after_first_page("c3", "not-a-number"))
    summary = (await world.ws.cli("run", "one-batch", "--json", "--full")).json()
    assert summary["counts"]["duplicate"] == 1
    assert summary["counts"]["invalid"] == 1
    assert summary["counts"]["written"] == 2999
    [group] = summary["errors"]
    assert group["sample_record_id"] == "c3" and "score" in group["message"]
    # Only the invalid last version was kept by the batch: nothing new for c3.
    rows = {r[0]: (r[2], r[4]) for r in table_rows(world.db, "one_batch")}
    assert rows["c3"][0] != "Latest"
