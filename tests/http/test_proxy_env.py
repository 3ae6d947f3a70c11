"""A proxy set in the environment is used, as httpx uses it (``HTTP_PROXY`` …).

A real forward proxy on 127.0.0.1 stands in: it answers every request itself
and records its request line, which a client going through a proxy writes in
absolute form (``GET http://host/path``). The target host does not resolve,
so a request that went around the proxy would fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from http_fixtures import fast_group, make_spec

from syncline.http import Client


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[str, list[bytes]]]:
    lines: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines.append(head.split(b"\r\n", 1)[0])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nproxied")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", lines
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
async def test_requests_go_through_the_proxy_the_environment_names(
    proxy: tuple[str, list[bytes]], variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, lines = proxy
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, url)
    async with Client(make_spec(fast_group(max_attempts=1))) as client:
        response = await client.request("GET", "http://crm.example.invalid/v1/users?limit=2")
    assert response.content == b"proxied"
    assert lines == [b"GET http://crm.example.invalid/v1/users?limit=2 HTTP/1.1"]
