"""Fixtures for the managed HTTP client tests: a real fault server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from syncline.sdk.testing.server import FaultServer


@pytest.fixture
async def server() -> AsyncIterator[FaultServer]:
    async with FaultServer() as running:
        yield running
