"""Fixtures of the collector tests: see collect_support.py for what they start."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from collect_support import RunningCollector, create_sources

from syncline.collect import CollectorSettings
from syncline.store import Workspace


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SYNCLINE_HOME", "SYNCLINE_DATABASE_URL", "SYNCLINE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def start_collector(
    tmp_path: Path,
) -> Iterator[Callable[..., RunningCollector]]:
    """Start a collector with the given settings (keyword arguments of CollectorSettings)."""
    running: list[RunningCollector] = []

    def start(database_url: str | None = None, **settings: Any) -> RunningCollector:
        workspace = Workspace(tmp_path / f"home{len(running)}")
        workspace.ensure()
        url = database_url or workspace.database_url
        create_sources(url, workspace)
        server = RunningCollector(url, workspace, CollectorSettings(**settings))
        server.start()
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


@pytest.fixture
def collector(start_collector: Callable[..., RunningCollector]) -> RunningCollector:
    return start_collector()
