"""Matching requests to endpoint groups."""

from __future__ import annotations

import httpx
import pytest
from http_fixtures import fast_group, make_spec

from syncline.http import Client, NoEndpointGroup
from syncline.http.matching import EndpointMatcher
from syncline.sdk.spec import ApplicationSpec, AsSource
from syncline.sdk.testing.server import FaultServer


def _group_name(matcher: EndpointMatcher, method: str, url: str) -> str | None:
    group = matcher.match(method, httpx.URL(url))
    return group.name if group else None


def test_most_specific_pattern_wins() -> None:
    spec = make_spec(
        fast_group(("/",), name="all"),
        fast_group(("/v1/",), name="v1"),
        fast_group(("/v1/contacts/",), name="contacts"),
        fast_group(("POST /v1/contacts/",), name="contacts-write"),
        fast_group(("api.example.com/v1/contacts/",), name="contacts-host"),
        fast_group(("/v1/contacts/search",), name="search"),
        fast_group(("other.example.com:8443/",), name="other-port"),
    )
    m = EndpointMatcher(spec)
    assert _group_name(m, "GET", "https://x.test/") == "all"
    assert _group_name(m, "GET", "https://x.test/v1/deals") == "v1"
    assert _group_name(m, "GET", "https://x.test/v1/contacts/1") == "contacts"
    # Same path length: a host beats a method.
    assert _group_name(m, "POST", "https://api.example.com/v1/contacts/1") == "contacts-host"
    assert _group_name(m, "POST", "https://x.test/v1/contacts/1") == "contacts-write"
    assert _group_name(m, "GET", "https://API.example.com/v1/contacts/1") == "contacts-host"
    # Exact path (no trailing slash) matches only itself.
    assert _group_name(m, "POST", "https://x.test/v1/contacts/search") == "search"
    assert _group_name(m, "POST", "https://x.test/v1/contacts/search/more") == "contacts-write"
    assert _group_name(m, "GET", "https://other.example.com:8443/x") == "other-port"
    assert _group_name(m, "GET", "https://other.example.com/x") == "all"


def test_no_match_names_the_url_and_patterns() -> None:
    spec = make_spec(fast_group(("GET /v1/",), name="v1"))
    m = EndpointMatcher(spec)
    assert m.match("POST", httpx.URL("https://x.test/v1/a")) is None
    assert m.match("GET", httpx.URL("https://x.test/v2/a")) is None
    error = m.no_match("GET", "https://x.test/v2/a")
    assert "GET https://x.test/v2/a" in str(error) and "'GET /v1/'" in str(error)


async def test_client_raises_for_unmatched_request_without_sending(server: FaultServer) -> None:
    spec = make_spec(fast_group(("/v1/",)))
    async with Client(spec) as client:
        with pytest.raises(NoEndpointGroup) as caught:
            await client.request("GET", f"{server.url}/v2/items?api_key=abc")
        with pytest.raises(NoEndpointGroup):
            client.wait_time("GET", f"{server.url}/v2/items")
    assert "/v2/items?api_key=[REDACTED]" in str(caught.value)
    assert "abc" not in str(caught.value)
    assert server.log == []


async def test_spec_without_groups_fails_every_request_naming_the_fix(
    server: FaultServer,
) -> None:
    spec = ApplicationSpec(code="bare", label="Bare", as_source=AsSource(targets=("users",)))
    async with Client(spec) as client:
        with pytest.raises(NoEndpointGroup, match="declares no endpoint_groups"):
            await client.request("GET", f"{server.url}/x")
    assert server.log == []


async def test_groups_have_separate_limiters_and_stats(server: FaultServer) -> None:
    server.route("GET", "/a/x", lambda r: {})
    server.route("GET", "/b/x", lambda r: {})
    spec = make_spec(fast_group(("/a/",), name="a"), fast_group(("/b/",), name="b"))
    async with Client(spec) as client:
        await client.request("GET", f"{server.url}/a/x")
        await client.request("GET", f"{server.url}/b/x")
        await client.request("GET", f"{server.url}/b/x")
        stats = client.stats()
    assert stats["a"].requests == 1 and stats["b"].requests == 2
