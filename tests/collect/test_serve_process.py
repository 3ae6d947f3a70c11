"""``syncline serve`` as a real process: start, graceful stop, kill -9 after acks, PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from collect_support import WRITE_KEY, RunningCollector, create_sources

from syncline.store import Workspace, open_store


class ServeProcess:
    def __init__(self, home: Path, *args: str) -> None:
        env = {**os.environ, "SYNCLINE_HOME": str(home)}
        env.pop("SYNCLINE_DATABASE_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "syncline.cli.main", "serve", "--port", "0", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)$", line.strip())
        if match is None:
            self.process.kill()
            raise AssertionError(f"serve did not start: {line!r} {self.process.stderr.read()}")
        self.url = match.group(1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    workspace = Workspace(tmp_path / "home")
    workspace.ensure()
    create_sources(workspace.database_url, workspace)
    return workspace.path


@pytest.fixture
def serve(home: Path) -> Iterator[Callable[..., ServeProcess]]:
    started: list[ServeProcess] = []

    def start(*args: str) -> ServeProcess:
        process = ServeProcess(home, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def logged_message_ids(home: Path) -> list[str]:
    async def main() -> list[str]:
        workspace = Workspace(home)
        store = await open_store(workspace.database_url, workspace=workspace)
        try:
            return [e.message_id for e in await store.event_log.read_after(0, 10**6)]
        finally:
            await store.close()

    return asyncio.run(main())


def batch(tag: str, n: int, size: int) -> dict[str, Any]:
    return {
        "batch": [
            {"type": "track", "event": "E", "userId": f"u{k}", "messageId": f"{tag}-{n}-{k}"}
            for k in range(size)
        ]
    }


def _send_until_stopped(
    url: str, tag: str, acked: list[str], stop: threading.Event, errors: list[str]
) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        n = 0
        while not stop.is_set():
            body = batch(tag, n, 50)
            try:
                response = client.post("/v1/batch", json=body, auth=(WRITE_KEY, ""))
            except httpx.HTTPError:
                return  # the server went away: what it acked so far is what counts
            if response.status_code == 200:
                acked.extend(m["messageId"] for m in body["batch"])
            elif response.status_code != 503:
                errors.append(f"{response.status_code} {response.text}")
            n += 1


def _load(
    url: str, senders: int
) -> tuple[list[list[str]], threading.Event, list[threading.Thread], list[str]]:
    stop = threading.Event()
    errors: list[str] = []
    acked: list[list[str]] = [[] for _ in range(senders)]
    threads = [
        threading.Thread(target=_send_until_stopped, args=(url, f"s{i}", acked[i], stop, errors))
        for i in range(senders)
    ]
    for thread in threads:
        thread.start()
    return acked, stop, threads, errors


def _wait_for(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(600):
        if condition():
            return
        event.wait(0.05)
    raise AssertionError("the load never reached the point the test waits for")


def test_kill_9_right_after_acks_loses_no_acked_event(
    serve: Callable[..., ServeProcess], home: Path
) -> None:
    # The collector alone: with delivery on, events no pipeline wants are pruned
    # from the log once routed, and the log is what this test inspects.
    process = serve("--no-deliver")
    acked, stop, threads, errors = _load(process.url, 3)
    _wait_for(lambda: sum(len(a) for a in acked) >= 3_000)
    os.kill(process.process.pid, signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(30)
    process.process.wait(30)
    assert errors == []
    logged = logged_message_ids(home)
    stored = set(logged)
    for sender in acked:
        assert sender, "a sender got no 200 before the kill"
        assert [m for m in sender if m not in stored] == []
        # Per sender, the log holds its events in the order it sent them.
        mine = [m for m in logged if m.startswith(sender[0].split("-")[0] + "-")]
        assert mine[: len(sender)] == sender
    # The restarted server serves on the same log.
    again = serve("--no-deliver")
    response = httpx.post(
        again.url + "/v1/batch", json=batch("after", 0, 3), auth=(WRITE_KEY, ""), timeout=30
    )
    assert response.status_code == 200
    assert logged_message_ids(home)[-3:] == ["after-0-0", "after-0-1", "after-0-2"]


def test_sigterm_stops_gracefully_and_keeps_every_ack(
    serve: Callable[..., ServeProcess], home: Path
) -> None:
    process = serve("--no-deliver")
    assert httpx.get(process.url + "/health").json() == {"status": "ok"}
    acked, stop, threads, errors = _load(process.url, 3)
    _wait_for(lambda: sum(len(a) for a in acked) >= 1_000)
    process.process.send_signal(signal.SIGTERM)
    assert process.process.wait(60) == 0
    stop.set()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert process.process.stdout is not None
    assert "syncline serve: stopped" in process.process.stdout.read()
    stored = set(logged_message_ids(home))
    assert all(m in stored for sender in acked for m in sender)


def test_serve_refuses_a_port_in_use(serve: Callable[..., ServeProcess], home: Path) -> None:
    first = serve()
    port = first.url.rsplit(":", 1)[1]
    env = {**os.environ, "SYNCLINE_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "syncline.cli.main", "serve", "--port", port],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.postgres
def test_collector_on_postgresql(
    start_collector: Callable[..., RunningCollector], postgres_url: str
) -> None:
    collector = start_collector(database_url=postgres_url)
    ids = [str(uuid.uuid4()) for _ in range(20)]
    body = {"batch": [{"type": "track", "userId": "u", "messageId": m} for m in ids]}
    assert collector.post("/v1/batch", body, auth=(WRITE_KEY, "")).status_code == 200
    assert [e.message_id for e in collector.events()] == ids
