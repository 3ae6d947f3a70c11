"""The shared PostgreSQL fixture: clear failure without binaries, isolated databases."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest


def _server_class() -> Any:
    # Registered by tests/conftest.py, which loads tests/fixtures/postgres.py by path.
    return sys.modules["syncline_test_fixtures_postgres"].PostgresServer


def test_missing_binaries_say_how_to_install(tmp_path: Path) -> None:
    server = _server_class()(bin_dir=tmp_path / "no-postgres-here")
    with pytest.raises(RuntimeError, match=r"apt-get install postgresql-15"):
        server.start()
    server.stop()


@pytest.mark.postgres
def test_each_test_gets_its_own_empty_database(postgres_server: Any, postgres_url: str) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    assert postgres_url.startswith("postgresql+asyncpg://postgres@127.0.0.1:")
    tables = postgres_server.sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'", name
    )
    assert tables.strip() == "0"
    other = postgres_server.create_database()
    try:
        assert other != name
        assert postgres_server.sql("SELECT version()", other).startswith("PostgreSQL 15")
    finally:
        postgres_server.drop_database(other)
