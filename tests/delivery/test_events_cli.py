"""``syncline events …``: dead, replay, stats and preview against a real store."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import orjson
import pytest
from delivery_world import API_KEY, make_world, message, scripted
from typer.testing import CliRunner

from syncline.cli.events import app


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SYNCLINE_DATABASE_URL", "SYNCLINE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNCLINE_HOME", str(tmp_path / "home"))
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=dict(os.environ))
    return result.exit_code, result.stdout, result.stderr


async def _world_with_one_dead_letter(home: Path) -> None:
    world = await make_world(home)
    try:
        server = await world.destination("app")
        handle, _ = scripted([("reject", {0: "reject"})])
        server.route("POST", "/events", handle)
        await world.pipeline("web-to-app", "app")
        await world.append([message("u", 1), message("v", 2)])
        async with world.service() as service:
            assert await service.wait_idle(10)
    finally:
        await world.close()


def test_dead_replay_and_stats(home: Path) -> None:
    asyncio.run(_world_with_one_dead_letter(home))
    code, out, _ = run("dead", "--json")
    assert code == 0
    [letter] = orjson.loads(out)
    assert letter["message_id"] == "u-1" and letter["pipeline"] == "web-to-app"
    assert letter["error"] == "the app rejected this event" and letter["attempts"] == 1
    assert "[REDACTED]" in letter["request"] and API_KEY not in out

    code, out, _ = run("stats", "--json")
    assert code == 0
    [row] = orjson.loads(out)
    assert row["pipeline"] == "web-to-app" and row["destination"] == "app"
    assert row["counts"]["delivered"] == 1 and row["counts"]["dead"] == 1
    assert row["dead_letters"] == 1 and row["pending"] == 0

    code, out, _ = run("replay", "--pipeline", "web-to-app", "--since", "1h", "--json")
    assert code == 0, out
    assert orjson.loads(out) == {"replayed": 1, "dead_again": 0}
    code, out, _ = run("stats", "--json")
    assert orjson.loads(out)[0]["pending"] == 1

    code, _, err = run("dead", "--pipeline", "nope")
    assert code == 2 and "nope" in err


async def _world_with_a_pipeline(home: Path) -> None:
    world = await make_world(home)
    try:
        await world.destination("app")
        await world.pipeline("web-to-app", "app")
    finally:
        await world.close()


def test_preview_prints_the_redacted_request(home: Path) -> None:
    asyncio.run(_world_with_a_pipeline(home))
    event = home / "event.json"
    event.write_bytes(orjson.dumps({"type": "track", "event": "Signed Up", "userId": "42"}))
    code, out, err = run("preview", "app", str(event))
    assert code == 0, err
    assert "# pipeline web-to-app: request" in out
    assert "authorization: Bearer [REDACTED]" in out
    assert '"id":"[PIPELINE]/preview-' in out
    assert API_KEY not in out

    event.write_bytes(b"not json")
    code, _, err = run("preview", "app", str(event))
    assert code == 2 and "is not JSON" in err
