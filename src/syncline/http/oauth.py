"""OAuth 2: authorization code with PKCE, token exchange, refresh and rotation.

Where tokens live: a connector that uses OAuth gives its settings model a field
named ``oauth`` of type :class:`OAuthSettings` (or a subclass)::

    class Settings(BaseModel):
        oauth: OAuthSettings
        base_url: str = "https://api.example.com"

``OAuthSettings`` holds the client credentials (``client_id``,
``client_secret``) and the tokens (``access_token``, ``refresh_token``,
``expires_at``, ``obtained_at``, ``scope``). Secrets are ``SecretStr``, so they
are encrypted at rest and redacted like every other secret setting.

The flow:

1. :func:`authorization_url` builds the URL to send the user to, with a random
   ``state`` and, unless the spec turns PKCE off, an S256 code challenge. Keep
   the returned :class:`AuthorizationRequest` until the redirect comes back and
   check the state with :meth:`AuthorizationRequest.check_state`.
2. :func:`exchange_code` trades the code for tokens.
3. The managed client (:class:`TokenKeeper`) adds ``Authorization: Bearer …`` to
   requests of groups with ``requires_oauth``, refreshes the token shortly
   before it expires (:func:`refresh_margin`), stores a rotated refresh token
   through the settings store (one ``store()`` call replacing the settings
   whole), refreshes at most once at a time per account, and after a 401
   refreshes once and retries once.

Token requests are form-encoded POSTs to ``token_url`` with ``client_id`` and
``client_secret`` in the body (``client_secret_post``). They are never retried
automatically: a rotated refresh token may be spent by the first attempt.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import orjson
from pydantic import BaseModel, SecretStr

from syncline.sdk.env import SettingsStore
from syncline.sdk.errors import AuthError, ConfigError, RetryableError
from syncline.sdk.spec import OAuthSpec

__all__ = [
    "OAUTH_FIELD",
    "AuthorizationRequest",
    "OAuthSettings",
    "TokenKeeper",
    "authorization_url",
    "exchange_code",
    "pkce_pair",
    "refresh_margin",
    "refresh_tokens",
]

OAUTH_FIELD = "oauth"
"""The name of the settings field that holds :class:`OAuthSettings`."""


class OAuthSettings(BaseModel):
    """Client credentials and tokens of one OAuth connection.

    ``expires_at`` and ``obtained_at`` are Unix seconds; ``expires_at`` None
    means the token does not expire (it is refreshed only after a 401).
    """

    client_id: str
    client_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    expires_at: float | None = None
    obtained_at: float | None = None
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """An authorization URL and what the redirect must be checked against."""

    url: str
    state: str
    redirect_uri: str
    code_verifier: str | None

    def check_state(self, state: str) -> bool:
        """True if ``state`` (from the redirect) is the one sent (constant-time compare)."""
        return hmac.compare_digest(self.state.encode(), state.encode())


def pkce_pair() -> tuple[str, str]:
    """A PKCE (code_verifier, S256 code_challenge) pair; the verifier has 43 characters."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(
    spec: OAuthSpec,
    *,
    client_id: str,
    redirect_uri: str,
    role: Literal["source", "destination"],
    state: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> AuthorizationRequest:
    """The URL that starts the authorization code flow for ``role``'s scopes.

    ``state`` defaults to 32 random bytes (URL-safe). ``extra`` adds
    app-specific parameters (``access_type=offline``, ``prompt=consent`` …).
    """
    state = state or secrets.token_urlsafe(32)
    scopes = spec.source_scopes if role == "source" else spec.destination_scopes
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if scopes:
        params["scope"] = " ".join(scopes)
    verifier = None
    if spec.pkce:
        verifier, challenge = pkce_pair()
        params["code_challenge"] = challenge
        params["code_challenge_method"] = "S256"
    params.update(extra or {})
    sep = "&" if "?" in spec.auth_url else "?"
    return AuthorizationRequest(
        spec.auth_url + sep + urlencode(params), state, redirect_uri, verifier
    )


def refresh_margin(oauth: OAuthSettings) -> float:
    """Seconds before expiry at which to refresh: 60, or 10 % of the lifetime if shorter."""
    if oauth.expires_at is not None and oauth.obtained_at is not None:
        return min(60.0, max(0.0, 0.1 * (oauth.expires_at - oauth.obtained_at)))
    return 60.0


async def _token_request(
    http: httpx.AsyncClient, spec: OAuthSpec, oauth: OAuthSettings, form: dict[str, str]
) -> OAuthSettings:
    form["client_id"] = oauth.client_id
    if oauth.client_secret is not None:
        form["client_secret"] = oauth.client_secret.get_secret_value()
    sent_at = time.time()
    what = f"POST {spec.token_url}"
    try:
        response = await http.post(
            spec.token_url, data=form, headers={"accept": "application/json"}
        )
    except httpx.TransportError as exc:
        raise RetryableError(
            f"the OAuth token endpoint could not be reached ({type(exc).__name__})", request=what
        ) from None
    payload = _decode(response)
    if response.status_code >= 500:
        raise RetryableError(
            "the OAuth token endpoint failed", status=response.status_code, request=what
        )
    if response.status_code != 200 or "access_token" not in payload:
        # ``error`` is a standard code (invalid_grant …), never a secret.
        code = payload.get("error")
        reason = f" ({code})" if isinstance(code, str) and code.isidentifier() else ""
        raise AuthError(
            f"the OAuth token endpoint refused the grant{reason}; re-authorize the connection",
            status=response.status_code,
            request=what,
        )
    expires_in = payload.get("expires_in", spec.expires_in)
    refresh = payload.get("refresh_token")
    return oauth.model_copy(
        update={
            "access_token": SecretStr(str(payload["access_token"])),
            # A provider that does not rotate refresh tokens omits the field: keep ours.
            "refresh_token": SecretStr(str(refresh)) if refresh else oauth.refresh_token,
            "expires_at": sent_at + float(expires_in) if expires_in is not None else None,
            "obtained_at": sent_at,
            "scope": payload.get("scope", oauth.scope),
        }
    )


def _decode(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        try:
            return dict(httpx.QueryParams(response.text).items())  # some apps answer a form
        except Exception:
            return {}
    return payload if isinstance(payload, dict) else {}


async def exchange_code(
    http: httpx.AsyncClient,
    spec: OAuthSpec,
    oauth: OAuthSettings,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str | None = None,
) -> OAuthSettings:
    """Trade an authorization code for tokens; returns ``oauth`` with the tokens set.

    Raises ``AuthError`` if the app refuses the code, ``RetryableError`` on a
    network error or a 5xx.
    """
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    return await _token_request(http, spec, oauth, form)


async def refresh_tokens(
    http: httpx.AsyncClient, spec: OAuthSpec, oauth: OAuthSettings
) -> OAuthSettings:
    """Use the refresh token; returns ``oauth`` with the new tokens (and a rotated refresh token)."""
    if oauth.refresh_token is None:
        raise AuthError(
            "the OAuth access token expired and there is no refresh token; re-authorize"
        )
    form = {"grant_type": "refresh_token", "refresh_token": oauth.refresh_token.get_secret_value()}
    return await _token_request(http, spec, oauth, form)


_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _account_lock(account: str) -> asyncio.Lock:
    locks = _locks.setdefault(asyncio.get_running_loop(), {})
    lock = locks.get(account)
    if lock is None:
        lock = locks[account] = asyncio.Lock()
    return lock


class TokenKeeper:
    """Gives a valid access token for one account, refreshing it when due.

    Every client of the same ``account`` in one event loop shares one lock, so
    concurrent requests cause one refresh. Tokens are read from the settings on
    every call, never kept here: another process may have refreshed them.
    ``http`` is the client refresh requests go through, or a function giving it
    (so a managed client builds its pool only when a request is sent).
    """

    def __init__(
        self,
        spec: OAuthSpec,
        settings: SettingsStore[Any],
        http: httpx.AsyncClient | Callable[[], httpx.AsyncClient],
        account: str,
        clock: Callable[[], float] = time.time,
        on_refresh: Callable[[OAuthSettings], None] | None = None,
    ) -> None:
        self.spec = spec
        self._settings = settings
        self._http = http
        self._account = account
        self._clock = clock
        self._on_refresh = on_refresh
        self.refreshes = 0

    def _due(self, oauth: OAuthSettings) -> bool:
        if oauth.access_token is None:
            return True
        if oauth.expires_at is None:
            return False
        return self._clock() >= oauth.expires_at - refresh_margin(oauth)

    async def access_token(self, settings: BaseModel) -> str:
        """A valid access token, given freshly loaded ``settings``; refreshes if due."""
        oauth = oauth_of(settings)
        if not self._due(oauth):
            assert oauth.access_token is not None
            return oauth.access_token.get_secret_value()
        return await self._refresh(lambda fresh: not self._due(fresh))

    async def after_unauthorized(self, rejected: str) -> str:
        """A new access token after the app refused ``rejected`` with 401."""

        def refreshed_elsewhere(fresh: OAuthSettings) -> bool:
            token = fresh.access_token
            return token is not None and token.get_secret_value() != rejected

        return await self._refresh(refreshed_elsewhere)

    async def _refresh(self, still_good: Callable[[OAuthSettings], bool]) -> str:
        async with _account_lock(self._account):
            # Another request (or process) may have refreshed while we waited.
            settings = await self._settings.load()
            oauth = oauth_of(settings)
            if not still_good(oauth):
                http = self._http if isinstance(self._http, httpx.AsyncClient) else self._http()
                oauth = await refresh_tokens(http, self.spec, oauth)
                self.refreshes += 1
                await self._settings.store(settings.model_copy(update={OAUTH_FIELD: oauth}))
                if self._on_refresh is not None:
                    self._on_refresh(oauth)
            assert oauth.access_token is not None
            return oauth.access_token.get_secret_value()


def oauth_of(settings: BaseModel) -> OAuthSettings:
    """The ``oauth`` field of ``settings``; ConfigError naming the fix if it is missing."""
    value = getattr(settings, OAUTH_FIELD, None)
    if not isinstance(value, OAuthSettings):
        raise ConfigError(
            f"{type(settings).__name__} has no {OAUTH_FIELD!r} field of type OAuthSettings; "
            "add `oauth: OAuthSettings` to the connector's settings model",
            field=OAUTH_FIELD,
        )
    return value
