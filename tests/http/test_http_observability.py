"""Counters, the capture hook, debug logs — and that no secret ever reaches a log or an error."""

from __future__ import annotations

import logging
import time

import pytest
from http_fixtures import fast_group, make_spec
from pydantic import BaseModel, SecretStr

from syncline.http import Client, OAuthSettings
from syncline.http.limiter import HEADROOM
from syncline.sdk.errors import ConnectorError
from syncline.sdk.spec import OAuthSpec, RateLimit, Timeouts
from syncline.sdk.testing.server import HANG, RESET, FaultServer, ReceivedRequest, Reply
from syncline.sdk.testing.settings import MemorySettings


async def test_stats_count_requests_retries_429s_and_waits(server: FaultServer) -> None:
    server.route("GET", "/x", lambda r: {})
    server.script("/x", [503, Reply(429, retry_after=0.2, retry_after_form="decimal")])
    async with Client(make_spec(fast_group(rate=20, burst=1))) as client:
        for _ in range(3):
            await client.request("GET", f"{server.url}/x")
        stats = client.stats()["/"]
    assert stats.requests == 5
    assert stats.retries == 2
    assert stats.rate_limited == 1
    assert stats.failures == 2
    assert stats.latency_count == 5
    assert sum(stats.latency_histogram) == 5
    assert stats.latency_sum > 0 and stats.latency_max > 0
    # Waits: the 429's 0.2 s pause plus tokens at 20/s.
    assert stats.limiter_wait >= 0.2


async def test_capture_records_every_attempt(server: FaultServer) -> None:
    server.route("GET", "/items", lambda r: [])
    server.script("/items", [500, 200])
    async with Client(make_spec()) as client:
        with client.capture() as sent:
            await client.request(
                "POST", f"{server.url}/items", json={"a": 1}, idempotency_key="k-9"
            )
        await client.request("GET", f"{server.url}/items")
    assert [(s.method, s.attempt) for s in sent] == [("POST", 1), ("POST", 2)]
    assert sent[0].body == b'{"a":1}' and sent[0].url == f"{server.url}/items"
    assert ("idempotency-key", "k-9") in sent[0].headers
    assert sent[1].group == "/"


async def test_on_send_listener_can_be_removed(server: FaultServer) -> None:
    server.route("GET", "/x", lambda r: {})
    seen: list[int] = []
    async with Client(make_spec()) as client:
        remove = client.on_send(lambda s: seen.append(s.attempt))
        await client.request("GET", f"{server.url}/x")
        remove()
        await client.request("GET", f"{server.url}/x")
    assert seen == [1]


async def test_wait_time_estimates_the_limiter(server: FaultServer) -> None:
    server.route("GET", "/x", lambda r: {})
    async with Client(make_spec(fast_group(rate=2, burst=1))) as client:
        assert client.wait_time("GET", f"{server.url}/x") == 0.0
        await client.request("GET", f"{server.url}/x")
        assert 0.0 < client.wait_time("GET", f"{server.url}/x") <= 1 / (2 * HEADROOM)


async def test_debug_log_names_each_attempt(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script("/x", [503, 200])
    caplog.set_level(logging.DEBUG, logger="syncline.http")
    async with Client(make_spec()) as client:
        await client.request("GET", f"{server.url}/x")
    lines = [r.getMessage() for r in caplog.records if r.name == "syncline.http"]
    assert any("GET" in line and "HTTP 503" in line and "attempt 1" in line for line in lines)
    assert any("HTTP 200" in line and "attempt 2" in line for line in lines)
    assert any("endpoint group '/'" in line for line in lines)  # counters at close


class SecretSettings(BaseModel):
    api_key: SecretStr
    nested: dict[str, SecretStr]
    oauth: OAuthSettings
    region: str = "eu"


API_KEY = "sk-live-API-KEY-0001"
NESTED = "nested-secret-0002"
ACCESS = "access-token-0003"
REFRESH = "refresh-token-0004"
CLIENT_SECRET = "client-secret-0005"
NEW_ACCESS = "access-token-NEW-0006"
NEW_REFRESH = "refresh-token-NEW-0007"
ALL_SECRETS = (API_KEY, NESTED, ACCESS, REFRESH, CLIENT_SECRET, NEW_ACCESS, NEW_REFRESH)


async def test_no_secret_reaches_a_log_record_or_an_error(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    def token(request: ReceivedRequest) -> Reply:
        return Reply(json={"access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH})

    server.route("*", "/{rest:path}", lambda r: Reply(json={"echo": r.body.decode()}))
    server.route("POST", "/oauth/token", token)
    server.script("/api/a", [503, RESET, Reply(429, retry_after=0.05, retry_after_form="decimal")])
    server.script("/api/b", [Reply(400, json={"error": f"bad key {API_KEY}"})])
    server.script("/api/c", [401, 401])
    server.script("/api/d", [HANG] * 4)
    server.script("/api/e", [500])
    store = MemorySettings(
        SecretSettings(
            api_key=SecretStr(API_KEY),
            nested={"x": SecretStr(NESTED)},
            oauth=OAuthSettings(
                client_id="cid",
                client_secret=SecretStr(CLIENT_SECRET),
                access_token=SecretStr(ACCESS),
                refresh_token=SecretStr(REFRESH),
                expires_at=time.time() + 3600,
            ),
        )
    )
    spec = make_spec(
        fast_group(
            ("/api/",), requires_oauth=True, timeouts=Timeouts(connect=1, read=1, total=0.3)
        ),
        oauth=OAuthSpec(auth_url=f"{server.url}/authorize", token_url=f"{server.url}/oauth/token"),
        secret_fields=("license",),
    )
    caplog.set_level(logging.DEBUG)  # every logger, the transport libraries included
    errors: list[ConnectorError] = []
    async with Client(spec, store) as client:
        calls = [
            ("GET", "/api/a", {"api_key": API_KEY, "q": NESTED}, None),
            ("POST", "/api/b", None, {"license": "L-1", "key": API_KEY, "note": NESTED}),
            ("GET", "/api/c", {"token": ACCESS}, None),
            ("GET", "/api/d", None, None),
            ("PUT", "/api/e", {"x": REFRESH}, {"secret": CLIENT_SECRET}),
        ]
        for method, path, params, body in calls:
            try:
                await client.request(
                    method,
                    f"{server.url}{path}",
                    params=params,
                    json=body,
                    headers={"X-Api-Key": API_KEY, "X-Trace": f"k={NESTED}"},
                )
            except ConnectorError as exc:
                errors.append(exc)
        preview = client.preview(
            client.build_request(
                "POST",
                f"{server.url}/api/z",
                params={"api_key": API_KEY},
                json={"license": "L-2", "value": CLIENT_SECRET},
                headers={"Authorization": f"Bearer {ACCESS}"},
            )
        )
        stats_text = repr(client.stats())
    assert len(errors) == 4  # b (400), c (401 twice), d (hang), e (500, not idempotent)
    assert server.requests("/oauth/token")  # a refresh really happened after the 401

    texts = [stats_text, str(preview.url), repr(dict(preview.headers)), preview.content.decode()]
    for exc in errors:
        texts += [str(exc), repr(exc), exc.message, exc.request or ""]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    assert len(caplog.records) >= 8
    for text in texts:
        for secret in ALL_SECRETS:
            assert secret not in text, f"secret leaked into: {text[:200]}"
    assert "L-2" not in preview.content.decode()
    assert preview.headers["authorization"] == "Bearer [REDACTED]"


def test_rate_limit_repr_is_plain_data() -> None:
    # Specs show in errors and logs; they must carry no settings.
    assert "RateLimit(requests_per_second=5" in repr(RateLimit(5))
