"""The managed HTTP client as a connector sees it (``env.http``).

This protocol is what connectors code against; :mod:`syncline.http` implements
it. Building a request is separate from sending it, so ``preview_send_events``
and ``send_events`` share one code path: build the request, then either
``send`` it or return ``preview(request)``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol

import httpx

__all__ = ["HttpClient"]


class HttpClient(Protocol):
    """Every connector request goes through this client.

    The client matches a request to its endpoint group, waits for the group's
    rate limiter, applies timeouts, adds OAuth credentials where the group
    requires them, retries by the group's policy — replaying a request only when
    it is idempotent — and raises typed errors from :mod:`syncline.sdk.errors`.
    """

    def build_request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        idempotency_key: str | bool | None = None,
        gzip: bool = False,
    ) -> httpx.Request:
        """Build a request without sending it.

        ``json`` is encoded compactly (orjson). ``idempotency_key`` marks a
        non-safe request (POST, PATCH …) as safe to replay: a string is sent as
        the ``Idempotency-Key`` header, ``True`` marks it without sending a
        header (for apps that dedupe by an ID inside the body). ``gzip``
        compresses the body and sets ``Content-Encoding: gzip``.
        """
        ...

    async def send(self, request: httpx.Request, *, accept: Collection[int] = ()) -> httpx.Response:
        """Send a built request and return the response.

        A 2xx response, or one whose status is in ``accept``, is returned with
        its body read. Any other status raises after the retry policy is spent:
        ``AuthError`` (401, after one token refresh and retry for OAuth groups;
        403), ``RateLimited`` (429), ``RetryableError`` (retryable 5xx, network
        errors, timeouts), ``PermanentError`` (the rest). A request that is not
        idempotent is sent at most once, whatever the app answers — except after
        a 401 on an OAuth group, which the app refused without acting on it: it
        goes once more with a refreshed token.
        """
        ...

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        idempotency_key: str | bool | None = None,
        gzip: bool = False,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """``build_request`` then ``send``."""
        ...

    def preview(self, request: httpx.Request) -> httpx.Request:
        """A copy of ``request`` with every credential replaced by ``[REDACTED]``."""
        ...

    def wait_time(self, method: str, url: str) -> float:
        """Seconds a request to ``url`` would wait for its rate limiter now (0: none)."""
        ...
