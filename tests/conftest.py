"""Fixtures shared by the whole test suite.

* ``postgres_server`` (session): a real PostgreSQL 15 started lazily, the first
  time a test asks for it, and stopped at the end of the session. Missing
  binaries fail the test with the install command; they are never skipped.
* ``postgres_url`` (function): a fresh, empty database on that server for one
  test, as a ``postgresql+asyncpg://`` URL; dropped afterwards.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fixtures.postgres import PostgresServer


def _load_fixture_module(name: str) -> ModuleType:
    # Loaded by path so that it works whatever the test directories' package
    # layout (with or without __init__.py files) and import mode are.
    module_name = f"syncline_test_fixtures_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(
        module_name, Path(__file__).parent / "fixtures" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


_postgres = _load_fixture_module("postgres")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server: PostgresServer = _postgres.PostgresServer()
    try:
        server.start()
    except _postgres.PostgresUnavailable as error:
        server.stop()
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
