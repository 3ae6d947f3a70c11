"""The examples of docs/http.md run, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "http.md"


def test_http_doc_examples_run() -> None:
    text = DOC.read_text()
    blocks = list(re.finditer(r"```python\n(.*?)```", text, flags=re.DOTALL))
    assert len(blocks) >= 4
    namespace: dict[str, object] = {"__name__": "docs_http"}
    for block in blocks:
        # Pad with blank lines so a failure points at the right line of the doc.
        line = text.count("\n", 0, block.start(1))
        source = "\n" * line + block.group(1)
        exec(compile(source, str(DOC), "exec", dont_inherit=True), namespace)
