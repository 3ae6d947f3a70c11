"""Project files: YAML with lines, ${VAR} references, schema checks, plans against the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from test_connections_support import SECRET, OAuthAppSettings, make_table, oauth_connector
from test_connections_support import test_connectors as test_connectors

from syncline.engine.config import ConfigFileError, SchemaCheck, apply_project, plan_project
from syncline.engine.config.loader import interpolate, load_yaml
from syncline.engine.config.model import PipelineConfig, parse_duration
from syncline.engine.settings_store import StoredSettings
from syncline.sdk.testing.server import FaultServer
from syncline.store import Store, Workspace, open_store

pytestmark = pytest.mark.usefixtures("test_connectors")

ENV = {"SHOP_KEY": SECRET, "WEB_KEY": "w" * 20}


@pytest.fixture
async def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Store]:
    for name in ("SYNCLINE_HOME", "SYNCLINE_DATABASE_URL", "SYNCLINE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    opened = await open_store(workspace=Workspace(tmp_path / "home"))
    try:
        yield opened
    finally:
        await opened.close()


def test_yaml_errors_carry_the_line() -> None:
    with pytest.raises(ConfigFileError) as caught:
        load_yaml("a: 1\nb: [2\nc: 3\n", "f.yml")
    assert caught.value.issues[0].file == "f.yml"
    assert caught.value.issues[0].line in (2, 3)
    with pytest.raises(ConfigFileError) as duplicate:
        load_yaml("a:\n  x: 1\n  x: 2\n", "f.yml")
    assert str(duplicate.value) == "f.yml:3: a.x: is given twice; keep one"


def test_lines_point_at_nested_keys() -> None:
    _, lines = load_yaml("a:\n  b:\n    - c: 1\n      d: 2\n", "f.yml")
    assert lines.line(("a", "b", 0, "d")) == 4
    assert lines.line(("a", "b", 0, "d", "deeper")) == 4


def test_interpolation() -> None:
    _, lines = load_yaml("x: 1\n", "f.yml")
    env = {"A": "1", "B_2": "two"}
    assert interpolate({"k": ["${A}-${B_2}", "$$5", "$", "a$b", 3]}, ("x",), lines, env) == {
        "k": ["1-two", "$5", "$", "a$b", 3]
    }
    with pytest.raises(ConfigFileError) as caught:
        interpolate({"k": "${MISSING} ${} ${1A"}, ("x",), lines, env)
    messages = [i.message for i in caught.value.issues]
    assert any("MISSING is not set" in m for m in messages)
    assert sum("malformed reference" in m for m in messages) == 2


@pytest.mark.parametrize(
    ("text", "seconds"), [(90, 90), ("90", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800)]
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["15 weeks", "m", "-5", True, 1.5, "1h 30x"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def shop_project(tmp_path: Path, url: str, mapping: str = "email: email") -> Path:
    data = tmp_path / "data"
    make_table(data, "customers", ["email", "full_name"])
    path = tmp_path / "p.yml"
    path.write_text(
        f"""\
connections:
  shop:
    connector: cfgtest-shop
    settings: {{base_url: "{url}", api_key: "${{SHOP_KEY}}"}}
  files:
    connector: cfgtest-table
    settings: {{directory: "{data}"}}
event_sources:
  web: {{write_key: "${{WEB_KEY}}"}}
pipelines:
  out:
    kind: export
    source: {{connection: files, options: {{table: customers}}}}
    destination: shop
    target: users
    mapping:
      {mapping}
    matching: email
"""
    )
    return path


async def test_check_schemas_reads_the_app_schema(store: Store, tmp_path: Path) -> None:
    async with FaultServer() as server:
        server.route("GET", "/schema", lambda request: {})
        path = shop_project(tmp_path, server.url, mapping="email: email\n      nickname: full_name")
        # By default the app is not asked: only the file-backed source is checked.
        plan = await plan_project(store, path, ENV)
        assert [c.action for c in plan.changes if c.kind == "pipeline"] == ["create"]
        assert server.requests("/schema") == []
        with pytest.raises(ConfigFileError) as caught:
            await plan_project(store, path, ENV, schemas=SchemaCheck.ALWAYS)
        assert server.requests("/schema")[-1].header("authorization") == f"Bearer {SECRET}"
        (issue,) = caught.value.issues
        assert issue.path == "pipelines.out.mapping.nickname"
        assert "unknown output property 'nickname'" in issue.message
        assert issue.line == 18
        assert await store.pipelines.list() == []


async def test_schema_read_failure_is_a_warning_by_default_and_an_error_when_asked(
    store: Store, tmp_path: Path
) -> None:
    async with FaultServer() as server:
        server.route("GET", "/schema", lambda request: 500)
        path = shop_project(tmp_path, server.url)
        (tmp_path / "data" / "customers.schema.json").unlink()
        plan = await plan_project(store, path, ENV)
        assert [w.path for w in plan.warnings] == ["pipelines.out.source"]
        assert "property names not checked" in plan.warnings[0].message
        with pytest.raises(ConfigFileError) as caught:
            await plan_project(store, path, ENV, schemas=SchemaCheck.ALWAYS)
        assert {i.path for i in caught.value.issues} == {
            "pipelines.out.source",
            "pipelines.out.destination",
        }
        assert SECRET not in str(caught.value)
        plan = await plan_project(store, path, ENV, schemas=SchemaCheck.NEVER)
        assert plan.warnings == []


async def test_pipelines_may_use_stored_connections(store: Store, tmp_path: Path) -> None:
    path = shop_project(tmp_path, "http://127.0.0.1:9")
    await apply_project(store, path, ENV)
    text = path.read_text()
    only_pipelines = text[text.index("pipelines:") :]
    path.write_text(only_pipelines)
    plan = await apply_project(store, path, ENV)
    assert [(c.kind, c.name, c.action) for c in plan.changes] == [
        ("connection", "files", "not in file"),
        ("connection", "shop", "not in file"),
        ("event source", "web", "not in file"),
        ("pipeline", "out", "unchanged"),
    ]


async def test_changes_the_store_refuses_are_caught_before_writing(
    store: Store, tmp_path: Path
) -> None:
    path = shop_project(tmp_path, "http://127.0.0.1:9")
    await apply_project(store, path, ENV)
    text = path.read_text()
    other = tmp_path / "other.yml"
    other.write_text(
        "connections:\n  files:\n    connector: cfgtest-shop\n"
        "    settings: {base_url: x, api_key: '${SHOP_KEY}'}\n"
    )
    with pytest.raises(ConfigFileError) as caught:
        await apply_project(store, other, ENV)
    (issue,) = caught.value.issues
    assert issue.path == "connections.files.connector" and issue.line == 3
    assert "already exists with connector 'cfgtest-table'" in issue.message
    path.write_text(
        text.replace("kind: export", "kind: import").replace("    matching: email\n", "")
    )
    with pytest.raises(ConfigFileError) as kind_changed:
        await apply_project(store, path, ENV)
    assert [i.path for i in kind_changed.value.issues] == ["pipelines.out.kind"]
    assert "already exists as an export pipeline" in kind_changed.value.issues[0].message
    assert (await store.pipelines.get("out")).kind == "export"


async def test_update_keeps_the_oauth_account_and_replaces_a_changed_write_key(
    store: Store, tmp_path: Path
) -> None:
    path = shop_project(tmp_path, "http://127.0.0.1:9")
    await apply_project(store, path, ENV)
    shop = await store.connections.get("shop")
    await store.connections.save(
        "shop", connector=shop.connector, roles=shop.roles, settings=None, oauth_account="acct-1"
    )
    plan = await apply_project(
        store, path, {**ENV, "SHOP_KEY": "sk_other_value_123456", "WEB_KEY": "v" * 20}
    )
    actions = {(c.kind, c.name): (c.action, c.fields) for c in plan.changes}
    assert actions[("connection", "shop")] == ("update", ("settings.api_key",))
    assert actions[("event source", "web")] == ("update", ("write_key",))
    assert (await store.connections.get("shop")).oauth_account == "acct-1"
    assert (await store.event_sources.by_write_key("v" * 20)) is not None
    assert (await store.event_sources.by_write_key("w" * 20)) is None


def test_pipeline_config_round_trips() -> None:
    config = PipelineConfig(mapping={"email": "email"}, schedule_seconds=60, matching="email")
    assert PipelineConfig.of(config.to_json()) == config
    with pytest.raises(ValueError):
        PipelineConfig.of({"unknown": 1})


async def test_event_type_is_checked_against_the_destination(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.yml"
    text = """\
connections:
  shop:
    connector: cfgtest-shop
    settings: {base_url: "http://127.0.0.1:9", api_key: "${SHOP_KEY}"}
pipelines:
  ev:
    kind: events
    destination: shop
    event_type: TYPE
    mapping:
      email: lower(traits.email)
"""
    path.write_text(text.replace("TYPE", "order"))
    assert (await plan_project(store, path, ENV)).changes  # the app is not asked by default
    with pytest.raises(ConfigFileError) as caught:
        await plan_project(store, path, ENV, schemas=SchemaCheck.ALWAYS)
    (issue,) = caught.value.issues
    assert (issue.path, issue.line) == ("pipelines.ev.event_type", 9)
    assert "has no event type 'order'; it has: track" in issue.message
    # 'track' has no values schema: a mapping would compute values no one receives.
    path.write_text(text.replace("TYPE", "track"))
    with pytest.raises(ConfigFileError) as refused:
        await plan_project(store, path, ENV, schemas=SchemaCheck.ALWAYS)
    (issue,) = refused.value.issues
    assert issue.path == "pipelines.ev.mapping"
    assert "takes no values" in issue.message and "remove `mapping`" in issue.message
    path.write_text(text.replace("TYPE", "track").split("    mapping:")[0])
    await apply_project(store, path, ENV, schemas=SchemaCheck.ALWAYS)
    assert (await store.pipelines.get("ev")).config["event_type"] == "track"


async def test_apply_never_drops_oauth_tokens_obtained_at_runtime(
    store: Store, tmp_path: Path
) -> None:
    with oauth_connector():
        path = tmp_path / "oauth.yml"
        text = (
            "connections:\n  app:\n    connector: cfgtest-oauth\n    settings:\n"
            "      oauth: {client_id: CLIENT, client_secret: '${SHOP_KEY}'}\n"
        )
        path.write_text(text.replace("CLIENT", "client-1"))
        await apply_project(store, path, ENV)
        connection = await store.connections.get("app")
        # The authorization flow stores tokens, as the runtime does.
        holder = StoredSettings(store, connection, OAuthAppSettings)
        current = await holder.load()
        tokens = current.oauth.model_copy(
            update={"access_token": SecretStr("at-1"), "refresh_token": SecretStr("rt-1")}
        )
        await holder.store(current.model_copy(update={"oauth": tokens}))

        again = await apply_project(store, path, ENV)
        assert [c.action for c in again.changes] == ["unchanged"]
        path.write_text(text.replace("CLIENT", "client-2"))
        changed = await apply_project(store, path, ENV)
        assert [(c.action, c.fields) for c in changed.changes] == [("update", ("settings.oauth",))]
        stored = (await store.connections.load_settings(connection.id)).values["oauth"]
        assert stored["client_id"] == "client-2"
        assert (stored["access_token"], stored["refresh_token"]) == ("at-1", "rt-1")

        path.write_text(text.replace("CLIENT", "c, access_token: literal-token"))
        with pytest.raises(ConfigFileError) as caught:
            await apply_project(store, path, ENV)
        assert caught.value.issues[0].path == "connections.app.settings.oauth.access_token"


async def test_a_changed_write_key_keeps_the_source_and_its_undelivered_events(
    store: Store, tmp_path: Path
) -> None:
    path = shop_project(tmp_path, "http://127.0.0.1:9")
    await apply_project(store, path, ENV)
    before = await store.event_sources.get("web")
    message = {
        "messageId": "m-1",
        "type": "track",
        "event": "Signed Up",
        "userId": "u-1",
        "receivedAt": "2026-01-01T00:00:00.000Z",
    }
    await store.event_log.append(before.id, [message])

    plan = await apply_project(store, path, {**ENV, "WEB_KEY": "v" * 20})

    actions = {(c.kind, c.name): (c.action, c.fields) for c in plan.changes}
    assert actions[("event source", "web")] == ("update", ("write_key",))
    after = await store.event_sources.get("web")
    assert after.id == before.id
    assert after.created_at == before.created_at
    assert (await store.event_sources.by_write_key("v" * 20)) == after
    assert (await store.event_sources.by_write_key("w" * 20)) is None
    assert await store.event_log.count(before.id) == 1
