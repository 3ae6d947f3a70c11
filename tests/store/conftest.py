"""Store fixtures: every store test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncline.store import Store, Workspace, open_store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class FakeClock:
    """A clock the test moves by hand, so lease expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SYNCLINE_HOME", "SYNCLINE_DATABASE_URL", "SYNCLINE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "home")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, workspace: Workspace) -> str:
    """The URL of an empty database on the backend under test."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    workspace.ensure()
    return workspace.database_url


@pytest.fixture
async def store(database_url: str, workspace: Workspace, clock: FakeClock) -> AsyncIterator[Store]:
    opened = await open_store(database_url, workspace=workspace, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
