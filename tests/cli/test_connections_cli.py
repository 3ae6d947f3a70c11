"""``syncline connections list|show|check|remove`` over a real store and real HTTP."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "engine"))

from test_connections_support import SECRET, OAuthAppSettings, make_table, oauth_connector
from test_connections_support import test_connectors as test_connectors

from syncline.cli.main import app
from syncline.sdk.testing.server import FaultServer, ReceivedRequest, Reply

pytestmark = pytest.mark.usefixtures("test_connectors")

PROJECT = """\
connections:
  shop:
    connector: cfgtest-shop
    settings:
      base_url: URL
      api_key: ${SHOP_KEY}
  files:
    connector: cfgtest-table
    roles: [destination]
    settings:
      directory: DIR
pipelines:
  contacts-in:
    kind: import
    source: shop
    target: users
    destination: {connection: files, options: {table: contacts}}
"""


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer().run_in_thread() as running:

        def me(request: ReceivedRequest) -> Any:
            if request.header("authorization") != f"Bearer {SECRET}":
                return Reply(401, {"error": "invalid key"})
            return {"account": "acme"}

        running.route("GET", "/me", me)
        running.route("GET", "/schema", lambda request: {})
        yield running


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SYNCLINE_HOME", "SYNCLINE_DATABASE_URL", "SYNCLINE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNCLINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOP_KEY", SECRET)
    return tmp_path / "home"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def apply(tmp_path: Path, url: str) -> None:
    data = tmp_path / "data"
    make_table(data, "contacts", ["email", "name"])
    path = tmp_path / "syncline.yml"
    path.write_text(PROJECT.replace("URL", url).replace("DIR", str(data)))
    result = invoke("apply", str(path))
    assert result.exit_code == 0, result.output


def test_list_and_show_never_show_secrets(home: Path, tmp_path: Path, server: FaultServer) -> None:
    apply(tmp_path, server.url)
    listed = invoke("connections", "list", "--json")
    assert listed.exit_code == 0
    rows = orjson.loads(listed.stdout)["connections"]
    assert [(r["name"], r["connector"], r["roles"]) for r in rows] == [
        ("files", "cfgtest-table", ["destination"]),
        ("shop", "cfgtest-shop", ["destination", "source"]),
    ]
    assert all(r["created_at"] for r in rows)
    table = invoke("connections", "list")
    assert "shop" in table.stdout and "cfgtest-table" in table.stdout

    shown = invoke("connections", "show", "shop", "--json")
    assert shown.exit_code == 0
    body = orjson.loads(shown.stdout)
    assert body["settings"] == {"base_url": server.url, "api_key": "[REDACTED]", "region": "eu"}
    assert body["pipelines"] == ["contacts-in"]
    text = invoke("connections", "show", "shop")
    assert "api_key: [REDACTED]" in text.stdout
    for result in (listed, table, shown, text):
        assert SECRET not in result.output


def test_check_against_a_live_server(
    home: Path, tmp_path: Path, server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(tmp_path, server.url)
    ok = invoke("connections", "check", "shop")
    assert ok.exit_code == 0, ok.output
    assert "ok" in ok.stdout
    assert server.requests("/me")[-1].header("authorization") == f"Bearer {SECRET}"

    monkeypatch.setenv("SHOP_KEY", "sk_live_wrong_key_123456")
    apply(tmp_path, server.url)
    bad = invoke("connections", "check", "shop", "--json")
    assert bad.exit_code == 1, bad.output
    report = orjson.loads(bad.stdout)
    assert report["ok"] is False
    assert report["problems"] == [
        {"field": "api_key", "message": "the API key was refused; create a new key in the shop"}
    ]
    text = invoke("connections", "check", "shop")
    assert text.exit_code == 1
    assert "setting 'api_key'" in text.stdout
    assert "sk_live_wrong_key_123456" not in bad.output + text.output


def test_check_reports_an_unreachable_app_as_a_problem(home: Path, tmp_path: Path) -> None:
    apply(tmp_path, "http://127.0.0.1:9")  # nothing listens on the discard port
    result = invoke("connections", "check", "shop", "--json")
    assert result.exit_code == 1, result.output
    problems = orjson.loads(result.stdout)["problems"]
    assert len(problems) == 1 and "check failed" in problems[0]["message"]
    assert SECRET not in result.output


def test_check_of_a_file_connector(home: Path, tmp_path: Path, server: FaultServer) -> None:
    apply(tmp_path, server.url)
    first = invoke("connections", "check", "files")
    assert first.exit_code == 0, first.output
    (tmp_path / "data" / "contacts.schema.json").unlink()
    (tmp_path / "data").rmdir()
    result = invoke("connections", "check", "files", "--json")
    assert result.exit_code == 1
    assert orjson.loads(result.stdout)["problems"][0]["field"] == "directory"


def test_unknown_connection_is_a_usage_error(home: Path) -> None:
    for command in ("show", "check", "remove"):
        result = invoke("connections", command, "nope")
        assert result.exit_code == 2
        assert "connection 'nope' does not exist" in result.stderr


def test_remove_refuses_while_pipelines_use_it(
    home: Path, tmp_path: Path, server: FaultServer
) -> None:
    apply(tmp_path, server.url)
    refused = invoke("connections", "remove", "files")
    assert refused.exit_code == 2
    assert "contacts-in" in refused.stderr and "--force" in refused.stderr
    assert "files" in orjson.loads(invoke("connections", "list", "--json").stdout).__str__()

    forced = invoke("connections", "remove", "files", "--force")
    assert forced.exit_code == 0, forced.output
    assert "removed pipeline 'contacts-in'" in forced.stdout
    names = [
        r["name"]
        for r in orjson.loads(invoke("connections", "list", "--json").stdout)["connections"]
    ]
    assert names == ["shop"]
    assert invoke("connections", "remove", "shop").exit_code == 0


def test_home_option_selects_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FaultServer
) -> None:
    for name in ("SYNCLINE_HOME", "SYNCLINE_DATABASE_URL", "SYNCLINE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHOP_KEY", SECRET)
    # --home wins over SYNCLINE_HOME (and setting it here restores it after the test).
    monkeypatch.setenv("SYNCLINE_HOME", str(tmp_path / "from-environment"))
    data = tmp_path / "data"
    make_table(data, "contacts", ["email"])
    path = tmp_path / "p.yml"
    path.write_text(PROJECT.replace("URL", server.url).replace("DIR", str(data)))
    home = tmp_path / "elsewhere"
    assert invoke("--home", str(home), "apply", str(path)).exit_code == 0
    assert (home / "syncline.db").exists()
    listed = invoke("--home", str(home), "connections", "list", "--json")
    assert len(orjson.loads(listed.stdout)["connections"]) == 2
    empty = invoke("--home", str(tmp_path / "other"), "connections", "list", "--json")
    assert orjson.loads(empty.stdout)["connections"] == []
    assert not (tmp_path / "from-environment").exists()


@pytest.mark.postgres
def test_apply_and_connections_on_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FaultServer, postgres_url: str
) -> None:
    for name in ("SYNCLINE_HOME", "SYNCLINE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNCLINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SYNCLINE_DATABASE_URL", postgres_url)
    monkeypatch.setenv("SHOP_KEY", SECRET)
    apply(tmp_path, server.url)
    again = invoke("apply", str(tmp_path / "syncline.yml"), "--json")
    assert {c["action"] for c in orjson.loads(again.stdout)["changes"]} == {"unchanged"}
    assert invoke("connections", "check", "shop").exit_code == 0
    shown = invoke("connections", "show", "shop", "--json")
    assert orjson.loads(shown.stdout)["settings"]["api_key"] == "[REDACTED]"
    assert not (tmp_path / "home" / "syncline.db").exists()


def test_show_redacts_nested_oauth_tokens(home: Path, tmp_path: Path) -> None:
    import asyncio

    from pydantic import SecretStr

    from syncline.engine.settings_store import StoredSettings
    from syncline.store import open_store

    with oauth_connector():
        path = tmp_path / "oauth.yml"
        path.write_text(
            "connections:\n  app:\n    connector: cfgtest-oauth\n    settings:\n"
            "      oauth: {client_id: client-1, client_secret: '${SHOP_KEY}'}\n"
        )
        assert invoke("apply", str(path)).exit_code == 0

        async def authorize() -> None:
            async with await open_store() as store:
                connection = await store.connections.get("app")
                holder = StoredSettings(store, connection, OAuthAppSettings)
                current = await holder.load()
                oauth = current.oauth.model_copy(
                    update={
                        "access_token": SecretStr("at-secret-0001"),
                        "refresh_token": SecretStr("rt-secret-0002"),
                    }
                )
                await holder.store(current.model_copy(update={"oauth": oauth}))

        asyncio.run(authorize())
        shown = invoke("connections", "show", "app", "--json")
        assert orjson.loads(shown.stdout)["settings"]["oauth"] == {
            "client_id": "client-1",
            "client_secret": "[REDACTED]",
            "access_token": "[REDACTED]",
            "refresh_token": "[REDACTED]",
            "expires_at": None,
            "obtained_at": None,
            "scope": None,
        }
        text = invoke("connections", "show", "app")
        for output in (shown.output, text.output):
            for secret in (SECRET, "at-secret-0001", "rt-secret-0002"):
                assert secret not in output
