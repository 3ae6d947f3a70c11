"""The examples of docs/configuration.md are applied, so the page cannot drift from the code."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import yaml

import syncline.connectors.postgres
import syncline.connectors.sqlite  # noqa: F401  (both register their connector)
from syncline.engine.config import SchemaCheck, apply_project
from syncline.engine.config.model import ProjectFile
from syncline.store import Store, Workspace, open_store

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks() -> list[str]:
    return YAML_BLOCK.findall(PAGE.read_text())


@pytest.fixture
async def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Store]:
    for name in ("SYNCLINE_HOME", "SYNCLINE_DATABASE_URL", "SYNCLINE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    opened = await open_store(workspace=Workspace(tmp_path / "home"))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.mark.postgres
async def test_the_complete_example_applies_and_reapplies_unchanged(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    complete = blocks()[0]
    monkeypatch.chdir(tmp_path)
    with sqlite3.connect(tmp_path / "warehouse.db") as db:
        db.execute(
            "CREATE TABLE customers (id TEXT PRIMARY KEY, email TEXT, first_name TEXT, "
            "last_name TEXT, country TEXT, updated_at TEXT)"
        )
    pg = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await pg.execute("CREATE TABLE customers (id TEXT PRIMARY KEY, email TEXT, name TEXT)")
    finally:
        await pg.close()
    path = tmp_path / "syncline.yml"
    path.write_text(complete)
    environ = {"ANALYTICS_DATABASE_URL": postgres_url, "WEBSITE_WRITE_KEY": "k" * 43}

    plan = await apply_project(store, path, environ, schemas=SchemaCheck.ALWAYS)
    assert plan.warnings == []
    assert sorted((c.kind, c.name, c.action) for c in plan.changes) == [
        ("connection", "analytics", "create"),
        ("connection", "warehouse", "create"),
        ("event source", "website", "create"),
        ("pipeline", "customers-to-analytics", "create"),
    ]
    pipeline = await store.pipelines.get("customers-to-analytics")
    assert pipeline.config["schedule_seconds"] == 900
    assert pipeline.config["overlap_seconds"] == 300
    assert pipeline.config["batch_size"] == 1000

    again = await apply_project(store, path, environ)
    assert {c.action for c in again.changes} == {"unchanged"}

    # The property check is real: a mapping output the table lacks is refused.
    path.write_text(complete.replace("name: concat(", "full_name: concat("))
    from syncline.engine.config import ConfigFileError

    with pytest.raises(ConfigFileError) as caught:
        await apply_project(store, path, environ)
    assert "pipelines.customers-to-analytics.mapping.full_name" in str(caught.value)


def test_every_other_example_has_a_valid_shape() -> None:
    others = blocks()[1:]
    assert others, "the page lost its export and events example"
    for text in others:
        shape = ProjectFile.model_validate(yaml.safe_load(text))
        assert shape.pipelines
