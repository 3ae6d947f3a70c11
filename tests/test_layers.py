"""The layers of DESIGN.md §2: arrows point down only.

``types`` imports nothing of ours; ``sdk`` imports ``types``; ``http`` imports
``sdk`` and ``types``; a connector imports only ``sdk``, ``types``, ``http`` (and
private helpers shared between connectors under ``syncline.connectors``);
``testing`` (the acceptance suite, which runs connectors on the managed client)
sits on ``http``. A module-name string handed to ``importlib`` would dodge this
check, so none of these layers may call ``import_module`` on our own packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "syncline"

ALLOWED = {
    "types": {"types"},
    "sdk": {"types", "sdk"},
    "http": {"types", "sdk", "http"},
    "connectors": {"types", "sdk", "http", "connectors"},
    "testing": {"types", "sdk", "http", "testing"},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_is_below_it(layer: str) -> None:
    wrong = []
    for path in sorted((SRC / layer).rglob("*.py")):
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[0] != "syncline" or len(parts) < 2:
                continue
            if parts[1] not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(SRC.parent)}:{line} imports {module}")
    assert not wrong, "layering broken (DESIGN.md §2):\n" + "\n".join(wrong)
