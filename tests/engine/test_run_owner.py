"""A run's owner is known dead when its process is gone, or is a zombie nobody reaped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from syncline.engine.runs.launch import _dead_local_process


def _owner(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:abcd1234"


def test_a_live_process_is_not_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not _dead_local_process(_owner(child.pid))
    finally:
        child.kill()
        child.wait()


def test_a_killed_unreaped_process_is_dead() -> None:
    # Killed and not yet waited for: the kernel keeps it as a zombie, and
    # kill(pid, 0) still succeeds. A supervisor that never reaps (a container
    # without an init) leaves runs in exactly this state.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    os.kill(child.pid, 9)
    deadline = time.monotonic() + 10
    while "Z" not in Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1][:3]:
        assert time.monotonic() < deadline, "the child never became a zombie"
        time.sleep(0.01)
    try:
        assert _dead_local_process(_owner(child.pid))
    finally:
        child.wait()
    assert _dead_local_process(_owner(child.pid))  # reaped: gone entirely


def test_owners_elsewhere_or_unparsable_are_not_judged() -> None:
    assert not _dead_local_process("another-host:1:abcd1234")
    assert not _dead_local_process("not an owner")
    assert not _dead_local_process(None)
    assert not _dead_local_process(_owner(os.getpid()))
