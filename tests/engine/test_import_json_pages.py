"""Import runs whose source returns ``RecordsPage.from_json``: the same result as hand-built records.

Two connectors read the same pages: one hands the engine each page's JSON body
(decoded, and validated natively when every item is valid), the other parses
it and builds ``Record`` values itself (validated by the engine). Both runs
must write byte-identical JSON Lines files and report the same counts and
errors, with invalid records, duplicates and a filter in play.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

import syncline.connectors.files.jsonl  # noqa: F401 - registers the destination
from syncline.engine.config.model import PipelineConfig
from syncline.engine.runs.launch import run_pipeline
from syncline.sdk import ApplicationSpec, AsSource, Env, JsonRecords, Problem, RecordsPage
from syncline.sdk.records import Record
from syncline.sdk.registry import connector
from syncline.store import Workspace, open_store
from syncline.types import Boolean, DateTime, Int, Object, Property, Role, String

SCHEMA = Object(
    [
        Property("email", String(max_length=40)),
        Property("score", Int(bits=16)),
        Property("vip", Boolean()),
        Property("seen", DateTime(), nullable=True),
    ]
)
SHAPE = JsonRecords(
    items="results", attributes="fields", updated_at="changed", next="after", unknown="refuse"
)
"""Refusing unknown members, as hand-built records with every member would be."""
PAGES: dict[str, bytes] = {}


def _pages() -> dict[str, bytes]:
    """Three pages; the second has invalid records, the third repeats two IDs."""

    def item(i: int, **fields: Any) -> dict[str, Any]:
        values = {"email": f"u{i}@example.com", "score": i, "vip": i % 3 == 0}
        values["seen"] = "2025-05-01T12:00:00+02:00" if i % 2 else None
        values.update(fields)
        return {"id": f"u{i}", "changed": f"2025-05-0{1 + i % 9}T00:00:00Z", "fields": values}

    first = [item(i) for i in range(0, 40)]
    second = [item(i) for i in range(40, 80)]
    second[3]["fields"]["score"] = 70000  # out of range
    second[5]["fields"]["surprise"] = 1  # unknown property
    second[7]["fields"]["score"] = "61"  # converted by the validator
    third = [item(i) for i in range(80, 100)] + [item(7, email="again@example.com")]
    third.append(item(85, email="later@example.com"))  # twice in one batch
    return {
        "": orjson.dumps({"results": first, "after": "p2"}),
        "p2": orjson.dumps({"results": second, "after": "p3"}),
        "p3": orjson.dumps({"results": third, "after": None}),
    }


class Settings(BaseModel):
    pass


def _spec(code: str) -> ApplicationSpec:
    return ApplicationSpec(code=code, label=code, as_source=AsSource(targets=("people",)),
                           settings=Settings)  # fmt: skip


@connector(_spec("json-pages-test"))
class JsonPages:
    def __init__(self, env: Env[Settings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        return []

    async def record_schema(self, target: str, role: Role) -> Object:
        return SCHEMA

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: Object
    ) -> RecordsPage:
        return RecordsPage.from_json(PAGES[cursor or ""], SHAPE)


@connector(_spec("built-pages-test"))
class BuiltPages(JsonPages):
    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: Object
    ) -> RecordsPage:
        body = orjson.loads(PAGES[cursor or ""])
        records = [
            Record(r["id"], r["fields"], datetime.fromisoformat(r["changed"]))
            for r in body["results"]
        ]
        return RecordsPage(records, body["after"], body["after"] is None)


async def _run(tmp: Path, source: str, **config: Any) -> tuple[bytes, dict[str, Any]]:
    store = await open_store(workspace=Workspace(tmp / source / "home"))
    try:
        await store.connections.save("api", connector=source, roles=["source"], settings={})
        await store.connections.save(
            "out", connector="jsonl", roles=["destination"],
            settings={"directory": str(tmp / source)},
        )  # fmt: skip
        api = await store.connections.get("api")
        out = await store.connections.get("out")
        await store.pipelines.save(
            "people", kind="import", target="people",
            source_connection_id=api.id, destination_connection_id=out.id,
            config=PipelineConfig(
                destination_options={"path": "people.jsonl"}, batch_size=50, **config
            ).to_json(),
        )  # fmt: skip
        run = await run_pipeline(store, "people", full=True)
    finally:
        await store.close()
    assert run.status == "succeeded", run.error
    errors = sorted((g.message, g.count) for g in run.error_groups)
    summary = {"counts": dict(run.counts), "errors": errors}
    return (tmp / source / "people.jsonl").read_bytes(), summary


@pytest.mark.parametrize("config", [{}, {"filter": "vip = true"}], ids=["plain", "filtered"])
async def test_json_pages_import_exactly_as_hand_built_records(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    PAGES.clear()
    PAGES.update(_pages())
    built, built_summary = await _run(tmp_path, "built-pages-test", **config)
    native, native_summary = await _run(tmp_path, "json-pages-test", **config)
    assert native == built
    assert native_summary == built_summary
    counts = native_summary["counts"]
    assert counts["read"] == 102 and counts["duplicate"] == 1
    assert counts["invalid"] == 2
    messages = " ".join(message for message, _ in native_summary["errors"])
    assert "score" in messages and "surprise" in messages
    lines = [orjson.loads(line) for line in native.splitlines()]
    by_id = {line["id"]: line for line in lines}
    if not config:
        assert len(lines) == 98
        assert by_id["u47"]["score"] == 61
        assert by_id["u7"]["email"] == "again@example.com"
        assert by_id["u85"]["email"] == "later@example.com"
        assert by_id["u1"]["seen"] == "2025-05-01T10:00:00Z"
    else:
        assert all(line["vip"] for line in lines)


async def test_a_body_that_is_not_a_page_fails_the_run_saying_where(tmp_path: Path) -> None:
    PAGES.clear()
    PAGES.update({"": orjson.dumps({"results": "nope", "after": None})})
    store = await open_store(workspace=Workspace(tmp_path / "home"))
    try:
        await store.connections.save("api", connector="json-pages-test", roles=["source"],
                                     settings={})  # fmt: skip
        await store.connections.save("out", connector="jsonl", roles=["destination"],
                                     settings={"directory": str(tmp_path)})  # fmt: skip
        api = await store.connections.get("api")
        out = await store.connections.get("out")
        await store.pipelines.save(
            "people", kind="import", target="people",
            source_connection_id=api.id, destination_connection_id=out.id,
            config=PipelineConfig(destination_options={"path": "people.jsonl"}).to_json(),
        )  # fmt: skip
        run = await run_pipeline(store, "people", full=True)
    finally:
        await store.close()
    assert run.status == "failed"
    assert "no array of items at 'results'" in (run.error or "")


async def test_the_reader_validates_pages_natively_only_when_asked_and_all_items_are_valid() -> (
    None
):
    from syncline.engine.runs.reader import PageReader

    PAGES.clear()
    PAGES.update(_pages())
    source = JsonPages.__new__(JsonPages)
    for native, expected in ((True, [True, False, True]), (False, [False, False, False])):
        async with PageReader(source, "people", None, None, SCHEMA, native=native) as reader:
            pages = [page async for page in reader]
        assert [page.validated for page in pages] == expected
        assert [len(page.records) for page in pages] == [40, 40, 22]
        assert [page.cursor for page in pages[:2]] == ["p2", "p3"] and pages[2].done
