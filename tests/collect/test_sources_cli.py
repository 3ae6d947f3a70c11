"""``syncline sources …``: write keys shown once, JSON output, guarded removal, live stats."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from collect_support import WRITE_KEY, RunningCollector
from typer.testing import CliRunner

from syncline.cli.main import app
from syncline.store import Workspace, open_store


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("SYNCLINE_HOME", str(path))
    return path


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_create_shows_the_key_once_then_only_its_prefix(home: Path) -> None:
    created = orjson.loads(run("sources", "create", "web", "--json"))
    key = created["write_key"]
    assert len(key) >= 32 and created["write_key_prefix"] == key[:8]
    listed = run("sources", "list")
    assert "web" in listed and key[:8] in listed and key not in listed
    as_json = run("sources", "list", "--json")
    assert key not in as_json
    assert orjson.loads(as_json)["event_sources"][0]["name"] == "web"
    rotated = run("sources", "rotate", "web")
    new_key = rotated.strip().splitlines()[-1]
    assert new_key != key and len(new_key) >= 32
    assert new_key not in run("sources", "list")
    assert "already exists" in run("sources", "create", "web", code=2)
    assert "does not exist" in run("sources", "rotate", "nope", code=2)


def test_create_with_a_key_from_the_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_KEY", "kept-write-key-0123456789")
    out = run("sources", "create", "web", "--write-key-env", "WEB_KEY")
    assert "kept-write-key-0123456789" in out
    assert "is not set" in run("sources", "create", "app", "--write-key-env", "MISSING", code=2)


def test_remove_refuses_while_events_wait_unless_dropped(home: Path) -> None:
    run("sources", "create", "web")

    async def log_events() -> None:
        workspace = Workspace(home)
        store = await open_store(workspace=workspace)
        try:
            source = await store.event_sources.get("web")
            await store.event_log.append(
                source.id,
                [
                    {
                        "type": "track",
                        "messageId": "m",
                        "userId": "u",
                        "receivedAt": "2026-01-01T00:00:00Z",
                    }
                ],
            )
        finally:
            await store.close()

    asyncio.run(log_events())
    out = run("sources", "remove", "web", code=2)
    assert "1 events in the event log" in out and "--drop-events" in out
    assert orjson.loads(run("sources", "remove", "web", "--drop-events", "--json")) == {
        "removed": "web",
        "dropped_events": 1,
    }
    assert "No event sources" in run("sources", "list")
    assert "does not exist" in run("sources", "remove", "web", code=2)


def test_stats_reads_a_running_collector(collector: RunningCollector) -> None:
    body = {"batch": [{"type": "track", "userId": "u"}, {"type": "track"}]}
    assert collector.post("/v1/batch", body, auth=(WRITE_KEY, "")).status_code == 200
    out = run("sources", "stats", "--url", collector.url)
    assert "web: 1 accepted; missing_id 1" in out
    assert "track  missing_id" in out
    data = orjson.loads(run("sources", "stats", "--url", collector.url, "--json"))
    assert data["rejected"] == {"web": {"missing_id": 1}}


def test_stats_without_a_server_says_so() -> None:
    out = run("sources", "stats", "--url", "http://127.0.0.1:9", code=1)
    assert "is `syncline serve` running?" in out


def test_tables_are_not_cut_to_80_columns_off_a_terminal(home: Path) -> None:
    # CliRunner's stdout is not a terminal, like a pipe into less or grep.
    name = "website-checkout-flow-" + "x" * 40
    run("sources", "create", name)
    assert name in run("sources", "list")
