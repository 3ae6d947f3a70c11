"""Registration checks a class against its spec at import time and names the fix."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, SecretStr

from syncline.sdk import registry
from syncline.sdk.errors import SpecError
from syncline.sdk.spec import (
    ApplicationSpec,
    AsDestination,
    AsSource,
    EndpointGroup,
    OAuthSpec,
    RateLimit,
)


class Settings(BaseModel):
    api_key: SecretStr


SOURCE = AsSource(targets=("users",), has_settings=False)


@pytest.fixture(autouse=True)
def _forget_test_codes() -> Iterator[None]:
    yield
    for code in ("acme", "acme-two", "plugin-acme"):
        registry.unregister(code)


class Reader:
    def __init__(self, env: Any) -> None:
        self.env = env

    async def record_schema(self, target: str, role: Any) -> Any:
        raise AssertionError

    async def records(self, target: str, updated_at: Any, cursor: Any, schema: Any) -> Any:
        raise AssertionError


def test_a_matching_class_registers_and_is_found() -> None:
    spec = ApplicationSpec(code="acme", label="Acme", as_source=SOURCE)
    entry = registry.register(spec, Reader)
    assert registry.get("acme") is entry
    assert entry.can("records") and not entry.can("upsert")
    # registering the same class again (a module re-imported) is fine
    registry.register(spec, Reader)


def test_a_source_without_records_names_the_method() -> None:
    class NoRecords:
        def __init__(self, env: Any) -> None: ...

        async def record_schema(self, target: str, role: Any) -> Any: ...

    spec = ApplicationSpec(code="acme", label="Acme", as_source=SOURCE)
    with pytest.raises(SpecError) as info:
        registry.register(spec, NoRecords)
    message = str(info.value)
    assert "as_source declares targets ('users',)" in message
    assert "no method 'records'" in message
    assert "async def records(" in message
    with pytest.raises(KeyError, match="unknown connector 'acme'"):
        registry.get("acme")


def test_the_decorator_fails_at_import_time() -> None:
    source = textwrap.dedent(
        """
        from syncline.sdk.registry import connector
        from syncline.sdk.spec import ApplicationSpec, AsDestination

        @connector(ApplicationSpec(code="acme", label="Acme",
                                   as_destination=AsDestination(targets=("events",), has_settings=False)))
        class Sender:
            def __init__(self, env): ...
            async def event_types(self): ...
            async def event_type_schema(self, type_id): ...
            async def preview_send_events(self, events): ...
        """
    )
    with pytest.raises(SpecError, match="no method 'send_events'"):
        exec(compile(source, "acme_connector.py", "exec"), {})


def test_sync_methods_are_refused() -> None:
    class SyncReader(Reader):
        def records(self, target: str, updated_at: Any, cursor: Any, schema: Any) -> Any:  # type: ignore[override]
            return None

    spec = ApplicationSpec(code="acme", label="Acme", as_source=SOURCE)
    with pytest.raises(SpecError, match="'records' must be async"):
        registry.register(spec, SyncReader)


def test_undeclared_capabilities_are_refused() -> None:
    class ReaderThatSends(Reader):
        async def send_events(self, events: Any) -> None: ...

    spec = ApplicationSpec(code="acme", label="Acme", as_source=SOURCE)
    with pytest.raises(
        SpecError, match="'send_events' but as_destination does not declare target 'events'"
    ):
        registry.register(spec, ReaderThatSends)


def test_settings_need_a_model_and_a_check() -> None:
    with_settings = AsSource(targets=("users",), has_settings=True)
    spec = ApplicationSpec(code="acme", label="Acme", as_source=with_settings)
    with pytest.raises(SpecError) as info:
        registry.register(spec, Reader)
    assert "no settings model" in str(info.value)
    assert "no method 'check'" in str(info.value)

    spec = ApplicationSpec(code="acme", label="Acme", as_source=SOURCE, settings=Settings)
    with pytest.raises(SpecError, match="no role has has_settings=True"):
        registry.register(spec, Reader)


def test_oauth_needs_oauth_account() -> None:
    spec = ApplicationSpec(
        code="acme",
        label="Acme",
        as_source=SOURCE,
        oauth=OAuthSpec(auth_url="https://a.example/auth", token_url="https://a.example/token"),
        endpoint_groups=(EndpointGroup(("/",), RateLimit(1, 1), requires_oauth=True),),
    )
    with pytest.raises(SpecError, match="no method 'oauth_account'"):
        registry.register(spec, Reader)


def test_constructor_must_take_the_env() -> None:
    class NoEnv(Reader):
        def __init__(self) -> None:  # type: ignore[override]
            pass

    spec = ApplicationSpec(code="acme", label="Acme", as_source=SOURCE)
    with pytest.raises(SpecError, match="exactly one required argument, the Env"):
        registry.register(spec, NoEnv)


def test_a_destination_of_records_needs_upsert() -> None:
    spec = ApplicationSpec(
        code="acme",
        label="Acme",
        as_destination=AsDestination(targets=("users",), has_settings=False),
    )
    with pytest.raises(SpecError, match="no method 'upsert'"):
        registry.register(spec, Reader)


def test_two_classes_cannot_share_a_code() -> None:
    spec = ApplicationSpec(code="acme", label="Acme", as_source=SOURCE)
    registry.register(spec, Reader)

    class OtherReader(Reader):
        pass

    with pytest.raises(SpecError, match="registered twice"):
        registry.register(spec, OtherReader)


def _write_plugin(root: Path, *, broken: bool = False) -> None:
    """A real installed distribution: a package and its .dist-info with an entry point."""
    package = root / "acme_plugin"
    package.mkdir()
    body = (
        "raise RuntimeError('plugin import failed')\n"
        if broken
        else textwrap.dedent(
            """
            from syncline.sdk.registry import connector
            from syncline.sdk.spec import ApplicationSpec, AsSource

            @connector(ApplicationSpec(code="plugin-acme", label="Plugin Acme",
                                       as_source=AsSource(targets=("users", "deals"), has_settings=False)))
            class PluginAcme:
                def __init__(self, env): ...
                async def record_schema(self, target, role): ...
                async def records(self, target, updated_at, cursor, schema): ...
            """
        )
    )
    (package / "__init__.py").write_text(body)
    info = root / "acme_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[syncline.connectors]\nplugin-acme = acme_plugin\n")


def test_third_party_connectors_are_discovered_through_entry_points(tmp_path: Path) -> None:
    _write_plugin(tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        failures = registry.discover(reload=True)
        assert [f for f in failures if "acme_plugin" in f.entry_point] == []
        entry = registry.get("plugin-acme")
        assert entry.spec.source_targets() == ("users", "deals")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("acme_plugin", None)
        registry.discover(reload=True)


def test_a_broken_plugin_is_reported_not_fatal(tmp_path: Path) -> None:
    _write_plugin(tmp_path, broken=True)
    sys.path.insert(0, str(tmp_path))
    try:
        failures = registry.discover(reload=True)
        broken = [f for f in failures if "acme_plugin" in f.entry_point]
        assert len(broken) == 1
        assert "plugin import failed" in broken[0].error
        assert "acme-plugin" in broken[0].entry_point
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("acme_plugin", None)
        registry.discover(reload=True)


def test_cli_lists_plugins_as_table_and_json(tmp_path: Path) -> None:
    _write_plugin(tmp_path)
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    cli = [sys.executable, "-m", "syncline.cli.main", "connectors"]
    table = subprocess.run(cli, capture_output=True, text=True, env=env, check=True).stdout
    assert "plugin-acme" in table and "users, deals" in table
    out = subprocess.run([*cli, "--json"], capture_output=True, env=env, check=True).stdout
    rows = {row["code"]: row for row in orjson.loads(out)["connectors"]}
    assert rows["plugin-acme"]["reads"] == ["users", "deals"]
    assert rows["plugin-acme"]["writes"] == []
    assert rows["plugin-acme"]["events"] is False
