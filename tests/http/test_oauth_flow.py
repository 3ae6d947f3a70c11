"""OAuth 2 against a real token endpoint served by the fault server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from http_fixtures import fast_group, make_spec
from pydantic import BaseModel, SecretStr

from syncline.http import Client, OAuthSettings, authorization_url, exchange_code
from syncline.http.oauth import refresh_margin
from syncline.sdk.errors import AuthError, ConfigError
from syncline.sdk.spec import ApplicationSpec, OAuthSpec
from syncline.sdk.testing.server import FaultServer, ReceivedRequest, Reply
from syncline.sdk.testing.settings import MemorySettings


class Settings(BaseModel):
    oauth: OAuthSettings
    region: str = "eu"


class TokenApp:
    """A tiny OAuth provider: rotates refresh tokens and checks bearer tokens."""

    def __init__(self, server: FaultServer, lifetime: int = 3600) -> None:
        self.server = server
        self.lifetime = lifetime
        self.counter = itertools.count(1)
        self.access = "access-0"
        self.refresh = "refresh-0"
        self.challenge: str | None = None
        self.token_hits = 0
        server.route("POST", "/oauth/token", self.token)
        server.route("*", "/api/{rest:path}", self.api)

    async def token(self, request: ReceivedRequest) -> Reply:
        self.token_hits += 1
        await asyncio.sleep(0.05)  # a slow provider widens the window for duplicate refreshes
        form = request.form()
        if form.get("client_id") != "cid" or form.get("client_secret") != "client-secret-1":
            return Reply(401, json={"error": "invalid_client"})
        if form["grant_type"] == "authorization_code":
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if form.get("code") != "the-code" or challenge != self.challenge:
                return Reply(400, json={"error": "invalid_grant"})
        elif form["grant_type"] == "refresh_token":
            if form.get("refresh_token") != self.refresh:
                return Reply(400, json={"error": "invalid_grant"})
        else:
            return Reply(400, json={"error": "unsupported_grant_type"})
        n = next(self.counter)
        self.access, self.refresh = f"access-{n}", f"refresh-{n}"
        return Reply(
            json={
                "access_token": self.access,
                "refresh_token": self.refresh,
                "expires_in": self.lifetime,
                "token_type": "Bearer",
            }
        )

    def api(self, request: ReceivedRequest) -> Reply:
        if request.header("authorization") != f"Bearer {self.access}":
            return Reply(401, json={"error": "invalid_token"})
        return Reply(json={"ok": True})


def oauth_spec(server: FaultServer) -> ApplicationSpec:
    oauth = OAuthSpec(
        auth_url=f"{server.url}/authorize",
        token_url=f"{server.url}/oauth/token",
        source_scopes=("contacts.read", "deals.read"),
        destination_scopes=("contacts.write",),
    )
    return make_spec(fast_group(requires_oauth=True), oauth=oauth)


def settings_with(access: str, refresh: str, expires_in: float, lived: float = 3600) -> Settings:
    now = time.time()
    return Settings(
        oauth=OAuthSettings(
            client_id="cid",
            client_secret=SecretStr("client-secret-1"),
            access_token=SecretStr(access),
            refresh_token=SecretStr(refresh),
            expires_at=now + expires_in,
            obtained_at=now + expires_in - lived,
        )
    )


def test_authorization_url_with_pkce_and_state() -> None:
    spec = OAuthSpec(
        auth_url="https://app.example.com/oauth/authorize?tenant=1",
        token_url="https://app.example.com/oauth/token",
        source_scopes=("a", "b"),
        destination_scopes=("c",),
    )
    auth = authorization_url(
        spec, client_id="cid", redirect_uri="https://syncline.test/cb", role="source"
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(auth.url).query).items()}
    assert query["tenant"] == "1" and query["response_type"] == "code"
    assert query["client_id"] == "cid" and query["redirect_uri"] == "https://syncline.test/cb"
    assert query["scope"] == "a b" and query["state"] == auth.state and len(auth.state) >= 32
    assert auth.code_verifier is not None and 43 <= len(auth.code_verifier) <= 128
    digest = hashlib.sha256(auth.code_verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert query["code_challenge_method"] == "S256"
    assert auth.check_state(auth.state) and not auth.check_state("forged")
    plain = OAuthSpec(auth_url=spec.auth_url, token_url=spec.token_url, pkce=False)
    other = authorization_url(plain, client_id="cid", redirect_uri="x", role="destination")
    assert "code_challenge" not in other.url and other.code_verifier is None


async def test_exchange_code_with_pkce(server: FaultServer) -> None:
    app = TokenApp(server, lifetime=600)
    spec = oauth_spec(server).oauth
    assert spec is not None
    auth = authorization_url(spec, client_id="cid", redirect_uri="https://cb", role="source")
    app.challenge = parse_qs(urlsplit(auth.url).query)["code_challenge"][0]
    start = OAuthSettings(client_id="cid", client_secret=SecretStr("client-secret-1"))
    async with httpx.AsyncClient() as http:
        tokens = await exchange_code(
            http,
            spec,
            start,
            code="the-code",
            redirect_uri="https://cb",
            code_verifier=auth.code_verifier,
        )
        with pytest.raises(AuthError, match="invalid_grant"):
            await exchange_code(
                http, spec, start, code="the-code", redirect_uri="https://cb", code_verifier="x"
            )
    assert tokens.access_token is not None and tokens.access_token.get_secret_value() == "access-1"
    assert tokens.refresh_token is not None
    assert tokens.expires_at is not None and tokens.obtained_at is not None
    assert tokens.expires_at - tokens.obtained_at == pytest.approx(600)
    assert refresh_margin(tokens) == pytest.approx(60)


async def test_concurrent_requests_under_an_expiring_token_refresh_once(
    server: FaultServer,
) -> None:
    app = TokenApp(server)
    app.access, app.refresh = "access-old", "refresh-old"
    # Expires in 5 s after living 100 s: inside the 10 s margin, so it is due now.
    store = MemorySettings(settings_with("access-old", "refresh-old", 5, lived=100))
    async with Client(oauth_spec(server), store, credential="acct-1") as client:
        responses = await asyncio.gather(
            *(client.request("GET", f"{server.url}/api/items") for _ in range(20))
        )
    assert all(r.status_code == 200 for r in responses)
    assert app.token_hits == 1
    assert store.stored == 1
    saved = (await store.load()).oauth
    assert saved.refresh_token is not None and saved.refresh_token.get_secret_value() == "refresh-1"
    assert saved.access_token is not None and saved.access_token.get_secret_value() == "access-1"
    assert {r.header("authorization") for r in server.requests("/api/items")} == {"Bearer access-1"}
    assert (await store.load()).region == "eu"


async def test_valid_token_is_not_refreshed(server: FaultServer) -> None:
    app = TokenApp(server)
    store = MemorySettings(settings_with("access-0", "refresh-0", 3600))
    async with Client(oauth_spec(server), store) as client:
        await client.request("GET", f"{server.url}/api/items")
    assert app.token_hits == 0 and store.stored == 0


async def test_401_refreshes_once_and_retries_once(server: FaultServer) -> None:
    app = TokenApp(server)
    app.access, app.refresh = "access-revoked-elsewhere", "refresh-0"
    store = MemorySettings(settings_with("access-0", "refresh-0", 3600))
    async with Client(oauth_spec(server), store) as client:
        response = await client.request("POST", f"{server.url}/api/items", json={"a": 1})
    assert response.status_code == 200
    assert app.token_hits == 1
    assert [r.status for r in server.requests("/api/items")] == [401, 200]


async def test_persistent_401_fails_with_auth_error_after_one_refresh(
    server: FaultServer,
) -> None:
    app = TokenApp(server)
    server.script("/api/items", [Reply(401)] * 5)
    store = MemorySettings(settings_with("access-0", "refresh-0", 3600))
    async with Client(oauth_spec(server), store) as client:
        with pytest.raises(AuthError, match="even after refreshing") as caught:
            await client.request("GET", f"{server.url}/api/items")
    assert caught.value.status == 401
    assert app.token_hits == 1
    assert len(server.requests("/api/items")) == 2


async def test_concurrent_401s_cause_one_refresh(server: FaultServer) -> None:
    app = TokenApp(server)
    app.access = "rotated-by-the-app"
    store = MemorySettings(settings_with("access-0", "refresh-0", 3600))
    async with Client(oauth_spec(server), store) as client:
        await asyncio.gather(*(client.request("GET", f"{server.url}/api/x") for _ in range(10)))
    assert app.token_hits == 1


async def test_two_clients_of_one_account_share_the_refresh(server: FaultServer) -> None:
    app = TokenApp(server)
    app.access, app.refresh = "old", "refresh-old"
    store = MemorySettings(settings_with("old", "refresh-old", 1, lived=100))
    spec = oauth_spec(server)
    async with Client(spec, store, account="acct") as a, Client(spec, store, account="acct") as b:
        await asyncio.gather(
            *(c.request("GET", f"{server.url}/api/x") for c in (a, b) for _ in range(5))
        )
    assert app.token_hits == 1


async def test_refused_refresh_token_raises_auth_error(server: FaultServer) -> None:
    app = TokenApp(server)
    app.refresh = "something-else"
    store = MemorySettings(settings_with("access-0", "refresh-0", -10))
    async with Client(oauth_spec(server), store) as client:
        with pytest.raises(AuthError, match="re-authorize") as caught:
            await client.request("GET", f"{server.url}/api/items")
    assert "refresh-0" not in str(caught.value)
    assert server.requests("/api/items") == []


async def test_settings_without_oauth_field(server: FaultServer) -> None:
    class Plain(BaseModel):
        api_key: SecretStr

    store = MemorySettings(Plain(api_key=SecretStr("k")))
    async with Client(oauth_spec(server), store) as client:
        with pytest.raises(ConfigError, match="oauth"):
            await client.request("GET", f"{server.url}/api/items")
