"""``registry.get(code)`` loads the entry points named ``code``, and all of them only when needed.

Each test runs in a fresh interpreter with a real installed plugin
distribution (a package and its ``.dist-info``) on ``PYTHONPATH``, because
what is being checked is which modules a process imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SHIPPED = (
    "syncline.connectors.sqlite",
    "syncline.connectors.postgres",
    "syncline.connectors.hubspot",
    "syncline.connectors.files.jsonl",
)

PLUGIN = """
from syncline.sdk.registry import connector
from syncline.sdk.spec import ApplicationSpec, AsSource

@connector(ApplicationSpec(code="plugin-acme", label="Plugin Acme",
                           as_source=AsSource(targets=("users",), has_settings=False)))
class PluginAcme:
    def __init__(self, env): ...
    async def record_schema(self, target, role): ...
    async def records(self, target, updated_at, cursor, schema): ...
"""


def _install(root: Path, package: str, entry_name: str, body: str) -> None:
    (root / package).mkdir()
    (root / package / "__init__.py").write_text(textwrap.dedent(body))
    info = root / f"{package}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[syncline.connectors]\n{entry_name} = {package}\n")


def _probe(root: Path, script: str) -> dict[str, object]:
    """Run ``script`` (which sets ``result``) and return ``result`` plus the loaded modules."""
    code = textwrap.dedent(script) + textwrap.dedent(
        """
        import json, sys
        result["modules"] = sorted(k for k, v in sys.modules.items() if v is not None)
        print(json.dumps(result))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    parsed: dict[str, object] = json.loads(done.stdout)
    return parsed


def test_get_loads_only_the_entry_point_named_like_the_code(tmp_path: Path) -> None:
    _install(tmp_path, "acme_plugin", "plugin-acme", PLUGIN)
    result = _probe(
        tmp_path,
        """
        from syncline.sdk import registry
        entry = registry.get("plugin-acme")
        result = {"origin": entry.origin}
        """,
    )
    assert result["origin"] == "acme_plugin.PluginAcme"
    modules = result["modules"]
    assert isinstance(modules, list)
    assert "acme_plugin" in modules
    assert [m for m in SHIPPED if m in modules] == []


def test_a_plugin_named_unlike_its_code_is_found_by_loading_every_entry_point(
    tmp_path: Path,
) -> None:
    _install(tmp_path, "acme_plugin", "acme", PLUGIN)
    result = _probe(
        tmp_path,
        """
        from syncline.sdk import registry
        entry = registry.get("plugin-acme")
        result = {"origin": entry.origin, "codes": [r.code for r in registry.registered()]}
        """,
    )
    assert result["origin"] == "acme_plugin.PluginAcme"
    codes = result["codes"]
    assert isinstance(codes, list) and {"plugin-acme", "jsonl", "hubspot"} <= set(codes)


def test_unknown_code_names_the_known_ones_and_counts_broken_plugins(tmp_path: Path) -> None:
    _install(tmp_path, "broken_plugin", "broken", "raise RuntimeError('plugin import failed')\n")
    result = _probe(
        tmp_path,
        """
        from syncline.sdk import registry
        try:
            registry.get("no-such-app")
        except KeyError as error:
            message = error.args[0]
        failures = [f.entry_point for f in registry.discover()]
        result = {"message": message, "failures": failures}
        """,
    )
    message = result["message"]
    assert isinstance(message, str)
    assert message.startswith("unknown connector 'no-such-app'; known connectors: ")
    assert "jsonl" in message and "hubspot" in message
    assert "1 connector entry point(s) failed to load." in message
    assert "syncline connectors" in message
    assert result["failures"] == ["broken = broken_plugin (from broken_plugin)"]


def test_a_broken_plugin_named_like_the_code_is_reported_by_discovery(tmp_path: Path) -> None:
    _install(
        tmp_path, "broken_plugin", "plugin-acme", "raise RuntimeError('plugin import failed')\n"
    )
    result = _probe(
        tmp_path,
        """
        from syncline.sdk import registry
        try:
            registry.get("plugin-acme")
        except KeyError as error:
            message = error.args[0]
        result = {"message": message, "errors": [f.error for f in registry.discover()]}
        """,
    )
    assert "1 connector entry point(s) failed to load" in str(result["message"])
    assert result["errors"] == ["RuntimeError: plugin import failed"]
