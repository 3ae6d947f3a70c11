"""The fault-injecting server itself, driven by a plain httpx client."""

from __future__ import annotations

import email.utils
import math
import time

import httpx
import pytest

from syncline.sdk.testing.server import HANG, RESET, FaultServer, Reply


async def test_routes_with_path_params_and_json(server: FaultServer) -> None:
    server.route("GET", "/items/{item_id}", lambda r: {"id": r.path_params["item_id"]})
    server.route("POST", "/items", lambda r: Reply(201, json={"got": r.json()}))
    server.route("*", "/files/{rest:path}", lambda r: {"rest": r.path_params["rest"]})
    async with httpx.AsyncClient(base_url=server.url) as http:
        got = await http.get("/items/42", params={"a": "1"})
        assert got.json() == {"id": "42"}
        created = await http.post("/items", json={"x": 1}, headers={"X-Test": "yes"})
        assert created.status_code == 201 and created.json() == {"got": {"x": 1}}
        nested = await http.delete("/files/a/b/c.txt")
        assert nested.json() == {"rest": "a/b/c.txt"}
        missing = await http.get("/nothing")
        assert missing.status_code == 404
    first, second = server.log[0], server.log[1]
    assert (first.method, first.path, first.params) == ("GET", "/items/42", {"a": "1"})
    assert second.header("x-test") == "yes" and second.json() == {"x": 1}
    assert [r.status for r in server.log] == [200, 201, 200, 404]


async def test_async_handler_and_handler_error(server: FaultServer) -> None:
    async def slow(request: object) -> dict[str, bool]:
        return {"ok": True}

    def broken(request: object) -> None:
        raise RuntimeError("boom")

    server.route("GET", "/async", slow)
    server.route("GET", "/broken", broken)
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/async")).json() == {"ok": True}
        assert (await http.get("/broken")).status_code == 500


async def test_script_then_route(server: FaultServer) -> None:
    server.route("GET", "/x", lambda r: {"ok": True})
    server.script("/x", [503, Reply(429, json={"e": 1}), 200])
    async with httpx.AsyncClient(base_url=server.url) as http:
        statuses = [(await http.get("/x")).status_code for _ in range(4)]
    assert statuses == [503, 429, 200, 200]
    assert [r.status for r in server.requests("/x")] == statuses


async def test_script_by_method(server: FaultServer) -> None:
    server.route("*", "/x", lambda r: {"ok": True})
    server.script("/x", [500], method="POST")
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/x")).status_code == 200
        assert (await http.post("/x")).status_code == 500
        assert (await http.post("/x")).status_code == 200


async def test_retry_after_forms(server: FaultServer) -> None:
    server.script(
        "/x",
        [
            Reply(429, retry_after=1.2),
            Reply(429, retry_after=1.2, retry_after_form="decimal"),
            Reply(503, retry_after=2, retry_after_form="date"),
        ],
    )
    async with httpx.AsyncClient(base_url=server.url) as http:
        seconds = await http.get("/x")
        decimal = await http.get("/x")
        before = time.time()
        dated = await http.get("/x")
    assert seconds.headers["retry-after"] == "2"
    assert decimal.headers["retry-after"] == "1.200"
    when = email.utils.parsedate_to_datetime(dated.headers["retry-after"]).timestamp()
    assert math.ceil(before + 2) <= when <= math.ceil(time.time() + 2)


async def test_rate_limit_enforced(server: FaultServer) -> None:
    rule = server.rate_limit(5, 3, prefix="/limited/")
    server.route("GET", "/limited/x", lambda r: {})
    server.route("GET", "/free", lambda r: {})
    async with httpx.AsyncClient(base_url=server.url) as http:
        burst = [(await http.get("/limited/x")).status_code for _ in range(5)]
        free = [(await http.get("/free")).status_code for _ in range(5)]
    assert burst[:3] == [200, 200, 200] and burst[3:] == [429, 429]
    assert free == [200] * 5
    refused = [r for r in server.log if r.status == 429]
    assert rule.refused == 2 and len(refused) == 2


async def test_reset_truncate_malformed_trickle(server: FaultServer) -> None:
    server.script("/reset", [RESET])
    server.script("/short", [Reply(200, body=b"0123456789", truncate=4)])
    server.script("/bad", [Reply.malformed_json()])
    server.script("/slow", [Reply(200, body=b"abcd", trickle=0.1, chunk_size=1)])
    async with httpx.AsyncClient(base_url=server.url) as http:
        with pytest.raises(httpx.TransportError):
            await http.get("/reset")
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/short")
        bad = await http.get("/bad")
        with pytest.raises(ValueError):
            bad.json()
        start = time.monotonic()
        slow = await http.get("/slow")
        assert slow.content == b"abcd"
        assert time.monotonic() - start >= 0.35


async def test_hang_and_delay(server: FaultServer) -> None:
    server.script("/hang", [HANG])
    server.script("/late", [Reply(200, delay=0.3)])
    async with httpx.AsyncClient(base_url=server.url) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/hang", timeout=0.3)
        start = time.monotonic()
        assert (await http.get("/late")).status_code == 200
        assert time.monotonic() - start >= 0.25
    assert server.requests("/hang")[0].status is None


async def test_keep_alive_reuses_connection(server: FaultServer) -> None:
    server.route("GET", "/x", lambda r: {})
    async with httpx.AsyncClient(base_url=server.url) as http:
        for _ in range(3):
            await http.get("/x")
    assert len({r.connection for r in server.log}) == 1


def test_run_in_thread_for_sync_code() -> None:
    with FaultServer().run_in_thread() as server:
        server.route("GET", "/x", lambda r: {"sync": True})
        with httpx.Client(base_url=server.url) as http:
            assert http.get("/x").json() == {"sync": True}
        assert len(server.log) == 1
