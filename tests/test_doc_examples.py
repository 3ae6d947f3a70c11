"""Examples in the docs are executed, so the docs cannot drift from the code.

Every fenced ```python block in README.md and docs/**/*.md runs; the blocks of one
page run in order in one namespace, like a reader following the page. Fragments
that are not meant to run are fenced as ```text (or another language).
"""

from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks(page: Path) -> list[tuple[int, str]]:
    text = page.read_text()
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in BLOCK.finditer(text)]


PAGES_WITH_CODE = [p for p in PAGES if _blocks(p)]


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNCLINE_HOME", str(tmp_path / "home"))
    # A real module, so that pydantic and dataclasses resolve names as they
    # would in a reader's file; no __future__ flags leak in from this file.
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for line, code in _blocks(page):
        try:
            code_object = compile(
                code, f"{page.relative_to(ROOT)}:{line}", "exec", dont_inherit=True
            )
            exec(code_object, module.__dict__)
        except Exception as exc:
            raise AssertionError(
                f"the example at {page.relative_to(ROOT)} line {line} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    assert os.getcwd() == str(tmp_path)
