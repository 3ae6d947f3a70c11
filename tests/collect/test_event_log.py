"""The event log on SQLite and PostgreSQL: order, durability, pruning, the delivery contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from syncline.store import Store, Workspace, open_store
from syncline.store.event_log import LoggedEvent, LogRow

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    workspace = Workspace(tmp_path / "home")
    workspace.ensure()
    return workspace.database_url


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "home")


@pytest.fixture
async def store(database_url: str, workspace: Workspace) -> AsyncIterator[Store]:
    opened = await open_store(database_url, workspace=workspace)
    try:
        yield opened
    finally:
        await opened.close()


def message(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": f"E{n}",
        "messageId": f"m-{n}",
        "userId": f"u{n}",
        "receivedAt": "2026-03-01T12:00:00.250Z",
        "timestamp": "2026-03-01T11:59:59.000Z",
        **extra,
    }


async def test_append_read_after_in_order(store: Store) -> None:
    source, _ = await store.event_sources.create("web")
    log = store.event_log
    assert await log.max_id() == 0
    assert await log.count() == 0
    first = await log.append(source.id, [message(n) for n in range(3)])
    second = await log.append(source.id, [message(n) for n in range(3, 5)])
    assert first == sorted(first) and second == sorted(second)
    assert first[-1] < second[0]
    events = await log.read_after(0, 100)
    assert [e.id for e in events] == first + second
    assert [orjson.loads(e.payload)["event"] for e in events] == [f"E{n}" for n in range(5)]
    assert events[0] == LoggedEvent(
        id=first[0],
        source_id=source.id,
        message_id="m-0",
        anonymous_id=None,
        user_id="u0",
        type="track",
        received_at=events[0].received_at,
        payload=orjson.dumps(message(0)),
    )
    assert events[0].received_at.isoformat() == "2026-03-01T12:00:00.250000+00:00"
    assert [e.id for e in await log.read_after(first[1], 2)] == [first[2], second[0]]
    assert await log.read_after(second[-1], 10) == []
    assert await log.max_id() == second[-1]
    assert await log.count() == 5
    assert await log.count(source.id) == 5
    assert await log.append(source.id, []) == []


async def test_numeric_user_ids_and_anonymous_ids(store: Store) -> None:
    source, _ = await store.event_sources.create("web")
    [event_id] = await store.event_log.append(source.id, [message(1, userId=42, anonymousId="a-1")])
    [event] = await store.event_log.read_after(event_id - 1, 1)
    assert (event.user_id, event.anonymous_id) == ("42", "a-1")


@pytest.mark.parametrize(
    "broken",
    [
        {"messageId": None},
        {"type": None},
        {"receivedAt": "never"},
        {"receivedAt": "2026-03-01T12:00:00"},
        {"userId": None},
        {"userId": {"x": 1}},
    ],
)
async def test_append_refuses_unnormalized_messages_and_writes_nothing(
    store: Store, broken: dict[str, Any]
) -> None:
    source, _ = await store.event_sources.create("web")
    with pytest.raises(ValueError):
        await store.event_log.append(source.id, [message(1), message(2, **broken)])
    assert await store.event_log.count() == 0


async def test_append_to_unknown_source_writes_nothing(store: Store) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        await store.event_log.append(999, [message(1)])
    assert await store.event_log.count() == 0


async def test_ids_never_go_back_after_pruning_to_empty(store: Store) -> None:
    source, _ = await store.event_sources.create("web")
    log = store.event_log
    ids = await log.append(source.id, [message(n) for n in range(4)])
    assert await log.delete_through(ids[1]) == 2
    assert [e.id for e in await log.read_after(0, 10)] == ids[2:]
    assert await log.min_id() == ids[2]
    assert await log.delete_through(ids[-1]) == 2
    assert await log.count() == 0
    assert await log.max_id() == 0
    [again] = await log.append(source.id, [message(9)])
    # A reader positioned at ids[-1] must still see the new event.
    assert again > ids[-1]
    assert [e.id for e in await log.read_after(ids[-1], 10)] == [again]


async def test_delete_source_events_and_the_source_guard(store: Store) -> None:
    web, _ = await store.event_sources.create("web")
    app, _ = await store.event_sources.create("app")
    await store.event_log.append(web.id, [message(1), message(2)])
    await store.event_log.append(app.id, [message(3)])
    # A source with events in the log cannot be removed by accident.
    with pytest.raises(sa.exc.IntegrityError):
        await store.event_sources.remove("web")
    assert await store.event_log.delete_source(web.id) == 2
    await store.event_sources.remove("web")
    assert [e.message_id for e in await store.event_log.read_after(0, 10)] == ["m-3"]


async def test_appends_from_two_stores_interleave_in_commit_order(
    database_url: str, workspace: Workspace
) -> None:
    """Two processes' worth of appenders: ids are unique, increasing, and visible in order."""
    first = await open_store(database_url, workspace=workspace)
    second = await open_store(database_url, workspace=workspace)
    try:
        source, _ = await first.event_sources.create("web")

        async def append(store: Store, tag: str) -> list[int]:
            ids: list[int] = []
            for n in range(20):
                ids += await store.event_log.append(
                    source.id, [message(n, messageId=f"{tag}-{n}-{k}") for k in range(5)]
                )
            return ids

        a, b = await asyncio.gather(append(first, "a"), append(second, "b"))
        assert len(set(a) | set(b)) == 200
        events = await first.event_log.read_after(0, 1000)
        assert [e.id for e in events] == sorted(a + b)
        # Each append's rows stay together and in order.
        for tag in ("a", "b"):
            mine = [e.message_id for e in events if e.message_id.startswith(tag)]
            assert mine == [f"{tag}-{n}-{k}" for n in range(20) for k in range(5)]
    finally:
        await first.close()
        await second.close()


async def test_committed_appends_survive_reopening(database_url: str, workspace: Workspace) -> None:
    store = await open_store(database_url, workspace=workspace)
    source, _ = await store.event_sources.create("web")
    ids = await store.event_log.append(source.id, [message(n) for n in range(10)])
    store.event_log.close()
    await store.close()
    reopened = await open_store(database_url, workspace=workspace)
    try:
        assert [e.id for e in await reopened.event_log.read_after(0, 100)] == ids
    finally:
        await reopened.close()


@pytest.mark.parametrize("size", [1, 127, 128, 129, 300])
async def test_appends_of_any_size_keep_order_and_consecutive_ids(store: Store, size: int) -> None:
    """SQLite writes rows in multi-row statements of up to 128: no size loses or reorders any."""
    source, _ = await store.event_sources.create("web")
    log = store.event_log
    [before] = await log.append(source.id, [message(-1)])
    received = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    rows = [
        LogRow(source.id, f"m-{n}", None if n % 2 else f"a{n}", f"u{n}", "track", received, b"{}")
        for n in range(size)
    ]
    ids = await log.append_rows(rows)
    assert ids == list(range(before + 1, before + 1 + size))
    events = await log.read_after(before, size + 10)
    assert [(e.id, e.message_id, e.anonymous_id, e.user_id) for e in events] == [
        (ids[n], f"m-{n}", None if n % 2 else f"a{n}", f"u{n}") for n in range(size)
    ]
    assert {e.received_at for e in events} == {received}


async def test_a_failing_row_in_a_later_statement_stores_nothing(store: Store) -> None:
    source, _ = await store.event_sources.create("web")
    received = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    rows = [
        LogRow(source.id if n != 250 else 999_999, f"m-{n}", None, "u", "track", received, b"{}")
        for n in range(300)
    ]
    with pytest.raises(sa.exc.IntegrityError):
        await store.event_log.append_rows(rows)
    assert await store.event_log.count() == 0
    # The appender is usable again after the rollback.
    assert len(await store.event_log.append_rows(rows[:3])) == 3


async def test_log_is_indexed_by_source_only(store: Store) -> None:
    """Appends must not pay for an index of random message ids (nothing reads one)."""

    def indexes(connection: sa.Connection) -> list[list[str | None]]:
        found = sa.inspect(connection).get_indexes("event_log")
        return sorted(list(index["column_names"]) for index in found)

    async with store.database.read() as conn:
        assert await conn.run_sync(indexes) == [["source_id"]]
