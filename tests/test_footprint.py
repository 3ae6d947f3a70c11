"""What a ``syncline`` process imports, checked in fresh interpreters.

Every module a process imports stays resident for its whole life, so these
tests pin facts (which packages are loaded), not timings: ``syncline --help``
loads no engine, store or HTTP stack; a pipeline run loads its own two
connectors and not the others, nor Alembic, asyncpg, the YAML reader or
httpx's command-line client; opening an up-to-date store imports neither
Alembic nor ``cryptography``. Each test also checks the opposite case where
there is one (a store that needs migrating does import Alembic), so that a
probe that records nothing cannot pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

# The loaded modules' names: a None entry in sys.modules is a blocked import.
LOADED = "def loaded(): return sorted(k for k, v in sys.modules.items() if v is not None)\n"

# Runs the real `syncline` command in this interpreter and writes every module
# it imported, once it exits, to the file named by the first argument.
COMMAND_PROBE = (
    "import atexit, json, sys\n"
    + LOADED
    + """
out = sys.argv[1]
def dump():
    with open(out, "w") as f:
        json.dump(loaded(), f)
atexit.register(dump)
sys.argv = ["syncline", *sys.argv[2:]]
from syncline.cli.main import main
main()
"""
)

# Opens the store at the URL given, twice records the modules: after opening,
# and after reading one connection's settings (when there is one).
STORE_PROBE = (
    "import asyncio, json, sys\n"
    + LOADED
    + """
from syncline.store import open_store

async def main(url, out):
    store = await open_store(url or None)
    try:
        opened = loaded()
        listed = await store.connections.list()
        if listed:
            await store.connections.load_settings(listed[0].id)
        read = loaded()
        if not listed:
            await store.connections.save("c", connector="jsonl", roles=["source"], settings={"k": "v"})
    finally:
        await store.close()
    with open(out, "w") as f:
        json.dump({"opened": opened, "read": read, "had_connection": bool(listed)}, f)

asyncio.run(main(url=sys.argv[2], out=sys.argv[1]))
"""
)

PROJECT = """\
version: 1
connections:
  files-in:
    connector: jsonl
    roles: [source]
    settings: {directory: DATA}
  files-out:
    connector: jsonl
    roles: [destination]
    settings: {directory: OUT}
pipelines:
  users:
    kind: import
    source: {connection: files-in, options: {path: users.jsonl, updated_at: updated_at}}
    target: users
    destination: {connection: files-out, options: {path: users.jsonl}}
    batch_size: 50
"""

# Connector packages besides the two file connectors a JSONL import uses.
OTHER_CONNECTORS = (
    "syncline.connectors.sqlite",
    "syncline.connectors.postgres",
    "syncline.connectors.hubspot",
    "syncline.connectors.klaviyo",
    "syncline.connectors.mixpanel",
    "syncline.connectors.pagerduty",
    "syncline.connectors.webhook",
    "syncline.connectors.google_analytics",
    "syncline.connectors.files.csvfile",
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCLINE_")}
    env["SYNCLINE_HOME"] = str(home)
    return env


def _run(
    probe: str, out: Path, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", probe, str(out), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _command_modules(tmp_path: Path, args: list[str], home: Path) -> tuple[set[str], str]:
    out = tmp_path / "modules.json"
    out.unlink(missing_ok=True)
    done = _run(COMMAND_PROBE, out, args, _env(home))
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text())), done.stdout


def _loaded(modules: set[str], *names: str) -> list[str]:
    """Those of ``names`` that are loaded, themselves or any of their submodules."""
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def test_help_loads_no_engine_store_or_http_stack(tmp_path: Path) -> None:
    modules, stdout = _command_modules(tmp_path, ["--help"], tmp_path / "home")
    assert "run" in stdout and "connectors" in stdout
    assert "typer" in modules and "syncline.cli.run" in modules
    assert (
        _loaded(
            modules,
            "asyncio",
            "sqlalchemy",
            "alembic",
            "pydantic",
            "httpx",
            "cryptography",
            "yaml",
            "importlib.metadata",
            "syncline.engine",
            "syncline.store",
            "syncline.http",
            "syncline.connectors",
        )
        == []
    )


def test_a_jsonl_import_run_loads_its_connectors_only(tmp_path: Path) -> None:
    data, out_dir, home = tmp_path / "data", tmp_path / "out", tmp_path / "home"
    data.mkdir()
    out_dir.mkdir()
    lines = [
        json.dumps(
            {"id": f"u{i}", "email": f"u{i}@example.com", "updated_at": "2026-01-01T00:00:00Z"}
        )
        for i in range(200)
    ]
    (data / "users.jsonl").write_text("\n".join(lines) + "\n")
    project = tmp_path / "syncline.yml"
    project.write_text(PROJECT.replace("DATA", str(data)).replace("OUT", str(out_dir)))
    applied, _ = _command_modules(tmp_path, ["apply", str(project)], home)
    # A new workspace is created at the head from the schema: no Alembic.
    assert "yaml" in applied and "alembic" not in applied

    modules, stdout = _command_modules(tmp_path, ["run", "users", "--full"], home)
    assert "succeeded" in stdout and "written 200" in stdout
    assert len((out_dir / "users.jsonl").read_text().splitlines()) == 200
    assert "syncline.connectors.files.jsonl" in modules
    assert "cryptography.fernet" in modules  # the settings were decrypted
    assert _loaded(modules, *OTHER_CONNECTORS) == []
    assert (
        _loaded(
            modules,
            "alembic",
            "asyncpg",
            "yaml",
            "syncline.engine.config.loader",
            "syncline.engine.config.plan",
            "httpx._main",
            "sqlalchemy.dialects.postgresql",
            "click",
            "rich",
            "pygments",
            "platformdirs",
        )
        == []
    )


def _open_twice(tmp_path: Path, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    env = _env(tmp_path / "home")
    results = []
    for attempt in ("first", "second"):
        out = tmp_path / f"{attempt}.json"
        done = _run(STORE_PROBE, out, [url], env)
        assert done.returncode == 0, done.stderr
        results.append(json.loads(out.read_text()))
    return results[0], results[1]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_up_to_date_store_opens_without_alembic_or_cryptography(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("postgres_url")) if backend == "postgres" else ""
    first, second = _open_twice(tmp_path, url)
    assert "alembic" not in first["opened"]  # an empty database is created at the head
    assert second["had_connection"]
    assert "alembic" not in second["opened"]
    assert "cryptography" not in second["opened"]
    assert "cryptography.fernet" in second["read"]  # only reading settings needs it
    # The other backend's driver and SQLAlchemy dialect are never imported.
    on_postgres = backend == "postgres"
    assert ("asyncpg" in second["opened"]) is on_postgres
    assert ("sqlalchemy.dialects.postgresql" in second["opened"]) is on_postgres


def test_engine_modules_load_no_yaml_or_other_connectors() -> None:
    script = (
        "import json, sys\n"
        + LOADED
        + textwrap.dedent(
            """
        import syncline.engine.runs.launch, syncline.store
        from syncline.sdk import registry
        registry.get("jsonl")
        print(json.dumps(loaded()))
        """
        )
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    modules = set(json.loads(done.stdout))
    assert "syncline.connectors.files.jsonl" in modules
    assert (
        _loaded(modules, *OTHER_CONNECTORS, "asyncpg", "yaml", "alembic", "httpx._main", "rich")
        == []
    )


def test_the_config_package_still_exports_every_name() -> None:
    import syncline.engine.config as config

    for name in config.__all__:
        assert getattr(config, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        config.nothing  # noqa: B018


def test_httpx_is_usable_without_its_command_line_client() -> None:
    script = "import syncline, httpx, sys; print(sys.modules.get('httpx._main'), httpx.Client)"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.startswith("None <class 'httpx.Client'>")
