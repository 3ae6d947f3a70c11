"""The sandbox framework: seeded data, paging helpers, vendor limits, fault modes, the log."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
from kit_acme.sandbox import API_KEY, AcmeSandbox

from syncline.sdk.testing.sandbox import (
    Fault,
    ItemResult,
    cursor_page,
    multi_status,
    offset_page,
)
from syncline.sdk.testing.server import RESET, FaultServer, Reply

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def test_the_same_seed_gives_the_same_data_of_any_size() -> None:
    one, two = AcmeSandbox(records=500, seed=3), AcmeSandbox(records=500, seed=3)
    other = AcmeSandbox(records=500, seed=4)
    users = one.collections["users"]
    assert len(users) == 500
    assert [users.render(i) for i in users.ids()] == [
        two.collections["users"].render(i) for i in two.collections["users"].ids()
    ]
    assert [users.render(i) for i in users.ids()] != [
        other.collections["users"].render(i) for i in other.collections["users"].ids()
    ]
    # Seeded change times are in the past, so "now" is told apart from the app's value.
    assert max(one.updated_at_of("users", i) for i in one.ids("users")) < datetime.now(UTC)


def test_cursor_and_offset_pages_cover_everything_once() -> None:
    items = list(range(23))
    seen, cursor = [], None
    while True:
        page, cursor = cursor_page(items, cursor, 5)
        seen += page
        if cursor is None:
            break
    assert seen == items
    assert offset_page(items, 20, 5) == ([20, 21, 22], None)
    assert offset_page(items, 0, 5) == ([0, 1, 2, 3, 4], 5)
    with pytest.raises(ValueError, match="not one this API returned"):
        cursor_page(items, "%%%", 5)


def test_multi_status_is_207_only_when_an_item_failed() -> None:
    assert multi_status([ItemResult(0, id="1"), ItemResult(1, id="2")]).status == 200
    reply = multi_status([ItemResult(0, id="1"), ItemResult(1, error="bad", field="email")])
    assert reply.status == 207
    assert reply.json["results"][1] == {
        "index": 1,
        "id": None,
        "status": 400,
        "error": "bad",
        "field": "email",
    }


def test_fault_names_are_checked() -> None:
    assert Fault.parse("5xx-burst:0.5") == Fault("5xx-burst", share=0.5)
    with pytest.raises(ValueError, match="unknown fault mode 'flood'"):
        Fault.parse("flood")
    with pytest.raises(ValueError, match="is not a share"):
        Fault.parse("reset:many")
    with pytest.raises(ValueError, match="must be in"):
        Fault("reset", share=1.5)


async def test_touch_changes_data_and_time_and_the_api_filters_on_it() -> None:
    async with AcmeSandbox(records=30, limits=False) as sandbox, httpx.AsyncClient() as http:
        before = datetime.now(UTC)
        touched = sandbox.touch("users", 4)
        assert len(touched) == 4
        answer = await http.get(
            f"{sandbox.url}/v1/contacts",
            params={"updated_since": before.isoformat(), "limit": 10},
            headers=AUTH,
        )
        contacts = answer.json()["contacts"]
        assert sorted(str(c["id"]) for c in contacts) == sorted(touched)
        assert all(c["first_name"].endswith("*") for c in contacts)


async def test_vendor_limits_answer_with_the_vendors_429_and_can_be_switched_off() -> None:
    class Strict(AcmeSandbox):
        def install(self, server: FaultServer) -> None:
            super().install(server)
            # A bucket that refills too slowly to matter: the test does not depend on speed.
            self.rate_limit(0.001, 3, prefix="/v1/me")

    async with Strict(records=5) as sandbox, httpx.AsyncClient() as http:
        statuses = [
            (await http.get(f"{sandbox.url}/v1/me", headers=AUTH)).status_code for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 429, 429]
        assert [r.status for r in sandbox.received("/v1/me")] == statuses
        answer = await http.get(f"{sandbox.url}/v1/me", headers=AUTH)
        assert answer.status_code == 429
        assert answer.headers["x-acme-ratelimit-remaining"] == "0"
        assert int(answer.headers["retry-after"]) >= 1
        assert answer.json()["error"] == "rate_limited"
        sandbox.limits = False
        assert (await http.get(f"{sandbox.url}/v1/me", headers=AUTH)).status_code == 200


async def test_window_limits_count_per_window() -> None:
    class Windowed(AcmeSandbox):
        def install(self, server: FaultServer) -> None:
            super().install(server)
            self.window_limit(3, 60.0, prefix="/v1/me", method="GET")

    async with Windowed(records=1) as sandbox, httpx.AsyncClient() as http:
        statuses = [
            (await http.get(f"{sandbox.url}/v1/me", headers=AUTH)).status_code for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 429, 429]
        assert (await http.get(f"{sandbox.url}/v1/contacts", headers=AUTH)).status_code == 200


async def test_fault_modes() -> None:
    async with AcmeSandbox(records=5, limits=False) as sandbox, httpx.AsyncClient() as http:
        url = f"{sandbox.url}/v1/me"

        sandbox.set_faults(Fault("5xx-burst", share=0.5))
        statuses = [(await http.get(url, headers=AUTH)).status_code for _ in range(6)]
        assert statuses.count(200) == 3 and {s for s in statuses if s != 200} <= {500, 502, 503}

        sandbox.set_faults("429-storm:1")
        answer = await http.get(url, headers=AUTH)
        assert answer.status_code == 429 and answer.headers["x-acme-ratelimit-remaining"] == "0"

        sandbox.set_faults(Fault("slow", delay=0.3))
        started = time.monotonic()
        assert (await http.get(url, headers=AUTH)).status_code == 200
        assert time.monotonic() - started >= 0.3

        sandbox.set_faults("reset:1")
        with pytest.raises(httpx.TransportError):
            await http.get(url, headers=AUTH)

        sandbox.set_faults("truncate:1")
        with pytest.raises(httpx.TransportError):
            await http.get(url, headers=AUTH)

        sandbox.set_faults(Fault("5xx-burst", share=1.0, prefix="/v1/contacts"))
        assert (await http.get(url, headers=AUTH)).status_code == 200

        sandbox.clear_faults()
        assert (await http.get(url, headers=AUTH)).status_code == 200
        assert sandbox.faults == []


async def test_a_fault_window_ends_by_itself() -> None:
    async with AcmeSandbox(records=1, limits=False) as sandbox, httpx.AsyncClient() as http:
        sandbox.set_faults(Fault("5xx-burst", share=1.0, seconds=0.2))
        assert (await http.get(f"{sandbox.url}/v1/me", headers=AUTH)).status_code >= 500
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if (await http.get(f"{sandbox.url}/v1/me", headers=AUTH)).status_code == 200:
                break
        else:
            pytest.fail("the fault did not end after its window")


def test_run_in_thread_serves_sync_code() -> None:
    with AcmeSandbox(records=3, limits=False).run_in_thread() as sandbox:
        answer = httpx.get(f"{sandbox.url}/v1/contacts", headers=AUTH)
        assert len(answer.json()["contacts"]) == 3
        assert sandbox.received("/v1/contacts", "GET")[0].status == 200


async def test_fault_server_interceptors_and_transforms() -> None:
    async with FaultServer() as server, httpx.AsyncClient() as http:
        server.route("GET", "/x", lambda request: {"ok": True})
        remove = server.intercept(lambda r: RESET if r.params.get("reset") else None)
        untransform = server.transform(
            lambda r, reply: Reply(reply.status, json={"wrapped": reply.json})
        )
        assert (await http.get(f"{server.url}/x")).json() == {"wrapped": {"ok": True}}
        with pytest.raises(httpx.TransportError):
            await http.get(f"{server.url}/x", params={"reset": "1"})
        remove()
        untransform()
        assert (await http.get(f"{server.url}/x", params={"reset": "1"})).json() == {"ok": True}
