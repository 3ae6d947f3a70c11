"""Building requests: JSON, gzip, idempotency marks, and the caller's own trace hook."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson
import pytest
from http_fixtures import count_ca_loads, make_spec

from syncline.http import Client, is_idempotent
from syncline.sdk.testing.server import FaultServer


async def test_json_and_gzip_bodies_reach_the_server(server: FaultServer) -> None:
    server.route("POST", "/track", lambda r: {"ok": True})
    async with Client(make_spec()) as client:
        request = client.build_request(
            "post", f"{server.url}/track", json={"event": "Signed Up", "n": 1}, gzip=True
        )
        assert request.method == "POST"
        assert request.headers["content-encoding"] == "gzip"
        await client.send(request)
        preview = client.preview(request)
    received = server.log[0]
    assert received.header("content-type") == "application/json"
    assert orjson.loads(gzip.decompress(received.body)) == {"event": "Signed Up", "n": 1}
    assert orjson.loads(preview.content) == {"event": "Signed Up", "n": 1}
    assert "content-encoding" not in preview.headers


async def test_build_request_rejects_ambiguous_input() -> None:
    async with Client(make_spec()) as client:
        with pytest.raises(ValueError, match="json or content"):
            client.build_request("POST", "http://x.test/", json={}, content=b"x")
        with pytest.raises(ValueError, match="empty string"):
            client.build_request("POST", "http://x.test/", idempotency_key="")


async def test_idempotency_marks() -> None:
    async with Client(make_spec()) as client:
        assert is_idempotent(client.build_request("GET", "http://x.test/"))
        assert not is_idempotent(client.build_request("POST", "http://x.test/"))
        keyed = client.build_request("POST", "http://x.test/", idempotency_key="k")
        assert is_idempotent(keyed) and keyed.headers["idempotency-key"] == "k"
        marked = client.build_request("PATCH", "http://x.test/", idempotency_key=True)
        assert is_idempotent(marked) and "idempotency-key" not in marked.headers
        assert is_idempotent(
            httpx.Request("POST", "http://x.test/", headers={"X-Idempotency-Key": "1"})
        )


async def test_callers_trace_hook_still_runs(server: FaultServer) -> None:
    server.route("GET", "/x", lambda r: {})
    seen: list[str] = []
    async with Client(make_spec()) as client:
        request = client.build_request("GET", f"{server.url}/x")
        request.extensions["trace"] = lambda name, info: seen.append(name)
        await client.send(request)
        await client.send(request)  # the same request again: the hook is not stacked
    assert seen.count("http11.send_request_headers.started") == 2


async def test_no_ca_bundle_is_loaded_without_an_https_request(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building httpx's https:// pool loads the CA bundle into an SSL context; a
    # client that never sends (a file or database run builds some), or sends only
    # plain http:// (tests/http/test_tls_pool.py has the https:// side), must not
    # pay for it.
    loads = count_ca_loads(monkeypatch)
    async with Client(make_spec()):
        pass
    assert loads == []
    server.route("GET", "/x", lambda r: {})
    async with Client(make_spec()) as client:
        await client.send(client.build_request("GET", f"{server.url}/x"))
    assert loads == []


async def test_response_bodies_are_read_in_chunks_of_256_kib(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpcore reads 64 KiB at a time by default; each read costs tens of
    # microseconds of Python, so large pages are read in larger chunks.
    import httpcore._backends.anyio as backend

    from syncline.http.client import READ_CHUNK

    asked: list[int] = []
    original = backend.AnyIOStream.read

    async def counting(self: Any, max_bytes: int, *args: Any, **kwargs: Any) -> bytes:
        asked.append(max_bytes)
        return await original(self, max_bytes, *args, **kwargs)

    monkeypatch.setattr(backend.AnyIOStream, "read", counting)
    body = [{"n": i, "text": "x" * 100} for i in range(8000)]
    server.route("GET", "/big", lambda r: body)
    async with Client(make_spec()) as client:
        response = await client.send(client.build_request("GET", f"{server.url}/big"))
    assert orjson.loads(response.content) == body
    assert asked and set(asked) == {READ_CHUNK} and READ_CHUNK == 256 * 1024
