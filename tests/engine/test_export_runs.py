"""Export runs through ``syncline run``: SQLite table → crm test app over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import testconnector.connector  # noqa: F401 - registers crm-test
from testconnector.world import World, export_world, person, write_people

import syncline.connectors.sqlite  # noqa: F401 - registers the source
from syncline.sdk.testing.server import Reply


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await export_world(tmp_path, 1200)
    try:
        yield w
    finally:
        await w.server.stop()


def _app_by_email(world: World) -> dict[str, dict[str, object]]:
    return {r["email"]: r for r in world.app.contacts.values()}


async def test_first_export_creates_every_row_then_updates_match_by_email(world: World) -> None:
    result = await world.ws.cli("run", "people", "--json")
    assert result.code == 0, result.stderr
    counts = result.json()["counts"]
    # A source may return a row again on a later page (the contract allows it):
    # it is then an update of the contact the first copy created.
    assert counts["read"] >= 1200
    assert counts["created"] == 1200
    assert counts["written"] == counts["read"] - counts["duplicate"]
    assert counts["failed"] == counts["invalid"] == 0
    assert len(world.app.contacts) == 1200
    ids_before = {email: r["id"] for email, r in _app_by_email(world).items()}

    write_people(
        world.db, [person(i, name=f"New {i}", stamp="2026-03-01T00:00:00+00:00") for i in (3, 4)]
    )
    summary = (await world.ws.cli("run", "people", "--json")).json()
    assert summary["full"] is False
    # The two changed rows, and row 1200 whose updated_at is the mark itself.
    assert summary["counts"]["read"] - summary["counts"]["duplicate"] == 3
    assert summary["counts"]["updated"] == 3
    assert summary["counts"]["created"] == 0
    assert len(world.app.contacts) == 1200
    by_email = _app_by_email(world)
    assert by_email["person3@example.com"]["name"] == "New 3"
    assert {email: r["id"] for email, r in by_email.items()} == ids_before


async def test_identity_map_is_refreshed_incrementally_not_reread(world: World) -> None:
    assert (await world.ws.cli("run", "people")).code == 0
    world.server.log.clear()
    write_people(world.db, [person(7, name="Seven", stamp="2026-03-01T00:00:00+00:00")])
    assert (await world.ws.cli("run", "people")).code == 0
    reads = world.server.requests("/contacts", "GET")
    assert reads, "the identity map was not refreshed"
    # Every refresh asked only for changes since the map's mark: one short page
    # each (the start of the run; no batch created anything), not 1,200 records.
    assert all("since" in r.params for r in reads)
    assert len(reads) == 1


async def test_update_only_mode_skips_unknown_rows_and_create_only_skips_known(
    tmp_path: Path,
) -> None:
    world = await export_world(tmp_path, 50, mode="update")
    try:
        world.app.seed(0)
        world.app._put(None, {"email": "person1@example.com", "name": "Old"})
        summary = (await world.ws.cli("run", "people", "--json")).json()
        assert summary["counts"]["updated"] == 1
        assert summary["counts"]["skipped"] == 49
        assert len(world.app.contacts) == 1
        assert world.app.contacts["c1"]["name"] == "Person 1"
    finally:
        await world.server.stop()


async def test_permanent_item_errors_are_recorded_and_others_written(tmp_path: Path) -> None:
    world = await export_world(tmp_path, 30)
    try:
        rows = [person(i) for i in range(1, 31)]
        rows[4] = (5, "not-an-email", "Five", "pro", rows[4][4])
        rows[9] = (10, "also-bad", "Ten", "pro", rows[9][4])
        write_people(world.db, rows)
        result = await world.ws.cli("run", "people", "--json")
        assert result.code == 0
        summary = result.json()
        assert summary["counts"]["created"] == 28
        assert summary["counts"]["failed"] == 2
        [group] = summary["errors"]
        assert group == {
            "message": "the app refused the email address",
            "count": 2,
            "sample_record_id": "5",
        }
        assert "not-an-email" not in result.stdout.replace('"email"', "")
    finally:
        await world.server.stop()


async def test_retryable_failures_are_retried_without_duplicate_creates(tmp_path: Path) -> None:
    world = await export_world(tmp_path, 250)
    try:
        original = world.app._batch
        calls = {"n": 0}

        def flaky(request):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            if calls["n"] == 2:
                # The app creates the records, then the response is lost (503).
                original(request)
                return Reply(503)
            if calls["n"] == 3:
                return Reply(503)
            return original(request)

        world.server.route("POST", "/contacts/batch", flaky)
        result = await world.ws.cli("run", "people", "--json")
        assert result.code == 0, result.stderr
        summary = result.json()
        assert summary["counts"]["failed"] == 0, summary["errors"]
        assert summary["counts"]["written"] == 250
        assert len(world.app.contacts) == 250
        assert sorted(_app_by_email(world)) == sorted(
            f"person{i}@example.com" for i in range(1, 251)
        )
    finally:
        await world.server.stop()


async def test_export_without_matching_exits_2_with_the_fix(tmp_path: Path) -> None:
    world = await export_world(tmp_path, 5, matching=None)
    try:
        result = await world.ws.cli("run", "people", "--json")
        assert result.code == 2
        assert "set `matching:`" in result.stderr
        assert result.stdout == ""
    finally:
        await world.server.stop()
