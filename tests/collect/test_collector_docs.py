"""The snippets of docs/events.md run against a real collector."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from collect_support import WRITE_KEY, RunningCollector

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
HOST = "http://127.0.0.1:8080"


def blocks(language: str) -> list[str]:
    # The client snippets are fenced as ``py``: the page-wide docs test runs every
    # ``python`` block without a collector, and these need one.
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def _localize(text: str, collector: RunningCollector) -> str:
    assert HOST in text and "YOUR_WRITE_KEY" in text
    return text.replace(HOST, collector.url).replace("YOUR_WRITE_KEY", WRITE_KEY)


@pytest.mark.parametrize("index", range(len(blocks("py"))))
def test_python_client_snippets_send_to_the_collector(
    collector: RunningCollector, index: int
) -> None:
    code = _localize(blocks("py")[index], collector)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    [message] = collector.messages()
    assert (message["userId"], message["event"], message["properties"]) == (
        "user-1",
        "Signed Up",
        {"plan": "pro"},
    )


def test_curl_snippet(collector: RunningCollector) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    [console] = [b for b in blocks("console") if "curl" in b]
    command, _, expected = console.partition("\n{")
    command = _localize(command.removeprefix("$ ").replace("\\\n", " "), collector)
    result = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{" + expected.strip()
    [message] = collector.messages()
    assert (message["type"], message["event"]) == ("track", "Signed Up")
