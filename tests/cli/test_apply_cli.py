"""``syncline apply``: a project file creates and updates the store, idempotently.

Every failing file must change nothing: the tests compare a snapshot of the
store (connections with their settings, pipelines, event sources) before and after.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "engine"))

from test_connections_support import SECRET, SHOP, TABLE, make_table
from test_connections_support import test_connectors as test_connectors

from syncline.cli.main import app
from syncline.store import open_store

pytestmark = pytest.mark.usefixtures("test_connectors")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SYNCLINE_HOME", "SYNCLINE_DATABASE_URL", "SYNCLINE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("SYNCLINE_HOME", str(home))
    monkeypatch.setenv("SHOP_KEY", SECRET)
    monkeypatch.setenv("WEB_WRITE_KEY", "wk_" + "a" * 30)
    return home


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result


def snapshot() -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        async with await open_store() as store:
            connections = {}
            for c in await store.connections.list():
                settings = await store.connections.load_settings(c.id)
                connections[c.name] = (c.connector, sorted(c.roles), settings.values, c.updated_at)
            pipelines = {
                p.name: (p.kind, p.target, p.config, p.enabled, p.updated_at)
                for p in await store.pipelines.list()
            }
            sources = {s.name: s.write_key_prefix for s in await store.event_sources.list()}
            return {"connections": connections, "pipelines": pipelines, "sources": sources}

    return asyncio.run(read())


def project(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncline.yml"
    path.write_text(text)
    return path


BASE = """\
connections:
  shop:
    connector: cfgtest-shop
    settings:
      base_url: http://127.0.0.1:9
      api_key: ${SHOP_KEY}
  files:
    connector: cfgtest-table
    settings:
      directory: DIR
event_sources:
  website:
    write_key: ${WEB_WRITE_KEY}
pipelines:
  contacts-in:
    kind: import
    source: shop
    target: users
    destination:
      connection: files
      options: {table: contacts}
    filter: "plan = 'pro'"
    mapping:
      email: lower(email)
      name: name
    schedule: {every: 15m}
    overlap: 2m
  profiles-out:
    kind: export
    source:
      connection: files
      options: {table: customers}
    destination: shop
    target: users
    mapping:
      email: email
      name: full_name
    matching: email
    mode: both
  track:
    kind: events
    destination: shop
    event_type: track
    event_sources: [website]
    filter: "type = 'track'"
"""


def base(tmp_path: Path) -> str:
    data = tmp_path / "data"
    make_table(data, "contacts", ["email", "name"])
    make_table(data, "customers", ["email", "full_name"])
    return BASE.replace("DIR", str(data))


def test_apply_creates_then_is_idempotent(home: Path, tmp_path: Path) -> None:
    path = project(tmp_path, base(tmp_path))
    first = invoke("apply", str(path))
    assert first.exit_code == 0, first.output
    assert "created" in first.stdout
    after_first = snapshot()
    assert set(after_first["connections"]) == {"shop", "files"}
    assert set(after_first["pipelines"]) == {"contacts-in", "profiles-out", "track"}
    assert after_first["sources"] == {"website": "wk_aaaaa"}
    config = after_first["pipelines"]["contacts-in"][2]
    assert config["schedule_seconds"] == 900
    assert config["overlap_seconds"] == 120
    assert config["destination_options"] == {"table": "contacts"}

    second = invoke("apply", str(path), "--json")
    assert second.exit_code == 0, second.output
    changes = orjson.loads(second.stdout)["changes"]
    assert {c["action"] for c in changes} == {"unchanged"}
    assert snapshot() == after_first
    assert SECRET not in first.output + second.output


def test_changed_setting_is_an_update_naming_the_field(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project(tmp_path, base(tmp_path))
    assert invoke("apply", str(path)).exit_code == 0
    monkeypatch.setenv("SHOP_KEY", "sk_live_rotated_value_000")
    result = invoke("apply", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "update" in result.stdout and "settings.api_key" in result.stdout
    assert "sk_live_rotated_value_000" not in result.output
    assert SECRET in str(snapshot()["connections"]["shop"][2])  # dry run wrote nothing
    assert invoke("apply", str(path)).exit_code == 0
    assert "sk_live_rotated_value_000" in str(snapshot()["connections"]["shop"][2])


def test_removed_pipeline_is_reported_then_pruned(home: Path, tmp_path: Path) -> None:
    text = base(tmp_path)
    path = project(tmp_path, text)
    assert invoke("apply", str(path)).exit_code == 0
    without = text[: text.index("  track:\n")]
    path.write_text(without)
    reported = invoke("apply", str(path))
    assert reported.exit_code == 0, reported.output
    assert "not in file" in reported.stdout and "track" in reported.stdout
    assert "track" in snapshot()["pipelines"]
    pruned = invoke("apply", str(path), "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert "removed" in pruned.stdout
    assert "track" not in snapshot()["pipelines"]


FAILURES: list[tuple[str, str, str, list[str]]] = [
    # (id, text to replace, replacement, fragments the error must contain)
    ("bad yaml", "    kind: export\n", "    kind: [export\n", ["syncline.yml:", "invalid YAML"]),
    (
        "unknown connector",
        "connector: cfgtest-shop",
        "connector: no-such-app",
        ["syncline.yml:3:", "connections.shop.connector", "unknown connector 'no-such-app'"],
    ),
    (
        "missing variable",
        "${SHOP_KEY}",
        "${SHOP_KEY_UNSET}",
        ["syncline.yml:6:", "connections.shop.settings.api_key", "SHOP_KEY_UNSET is not set"],
    ),
    (
        "literal secret",
        "${SHOP_KEY}",
        SECRET,
        ["syncline.yml:6:", "connections.shop.settings.api_key", "environment variable"],
    ),
    (
        "invalid setting",
        "      api_key: ${SHOP_KEY}\n",
        "      api_key: ${SHOP_KEY}\n      region: mars\n",
        ["syncline.yml:7:", "connections.shop.settings.region", "'eu' or 'us'"],
    ),
    (
        "unknown setting",
        "      api_key: ${SHOP_KEY}\n",
        "      api_key: ${SHOP_KEY}\n      colour: red\n",
        ["syncline.yml:7:", "connections.shop.settings.colour", "unknown setting"],
    ),
    (
        "unknown property in a mapping",
        "      name: full_name\n",
        "      name: fullname\n",
        ["pipelines.profiles-out.mapping.name", "fullname"],
    ),
    (
        "unknown function",
        "email: lower(email)",
        "email: lowr(email)",
        ["pipelines.contacts-in.mapping.email", "lowr"],
    ),
    (
        "unknown connection",
        "    destination: shop\n    target: users\n",
        "    destination: shopp\n    target: users\n",
        ["syncline.yml:33:", "pipelines.profiles-out.destination", "unknown connection 'shopp'"],
    ),
    (
        "target not declared",
        "    source: shop\n    target: users\n",
        "    source: shop\n    target: deals\n",
        ["pipelines.contacts-in.target", "does not read target 'deals'"],
    ),
    (
        "invalid pipeline option",
        "options: {table: contacts}",
        "options: {tabel: contacts}",
        ["pipelines.contacts-in.destination.options.tabel"],
    ),
    (
        "field of another kind",
        "    matching: email\n",
        "    matching: email\n    purge: true\n",
        ["pipelines.profiles-out.purge", "not used by export pipelines"],
    ),
    (
        "bad duration",
        "overlap: 2m",
        "overlap: 2 weeks",
        ["pipelines.contacts-in.overlap", "duration"],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "fragments"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_bad_file_fails_before_anything_is_written(
    home: Path, tmp_path: Path, old: str, new: str, fragments: list[str]
) -> None:
    good = base(tmp_path)
    path = project(tmp_path, good)
    assert invoke("apply", str(path)).exit_code == 0
    # A change elsewhere in the file that would be written if the file were applied.
    changed = good.replace("overlap: 2m", "overlap: 3m") if "overlap" not in old else good
    changed = changed.replace("base_url: http://127.0.0.1:9", "base_url: http://127.0.0.1:10")
    assert old in changed
    path.write_text(changed.replace(old, new, 1))
    before = snapshot()
    result = invoke("apply", str(path))
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert "nothing was written" in result.stderr
    assert SECRET not in result.output
    assert snapshot() == before


def test_errors_on_a_fresh_store_write_nothing(home: Path, tmp_path: Path) -> None:
    path = project(tmp_path, base(tmp_path).replace("source: shop\n", "source: nope\n"))
    result = invoke("apply", str(path), "--json")
    assert result.exit_code == 2
    errors = orjson.loads(result.stdout)["errors"]
    assert errors[0]["path"] == "pipelines.contacts-in.source"
    assert errors[0]["line"] == 17
    assert snapshot() == {"connections": {}, "pipelines": {}, "sources": {}}


def test_codes_are_the_test_connectors() -> None:
    assert (SHOP, TABLE) == ("cfgtest-shop", "cfgtest-table")
