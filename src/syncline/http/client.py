"""The managed HTTP client: :class:`Client` implements :class:`syncline.sdk.client.HttpClient`.

For every ``send`` the client:

1. matches the request to the most specific endpoint group (no match:
   :class:`~syncline.http.matching.NoEndpointGroup`, naming the URL and the
   patterns);
2. waits for the group's rate limiter (per credential; FIFO; ``max_concurrent``),
   taking the token when the request is about to be written (see :class:`_WireGate`);
3. adds ``Authorization: Bearer …`` for groups with ``requires_oauth``,
   refreshing the token first when it is about to expire;
4. sends with the group's timeouts (connect, read, and ``total`` per attempt,
   which also bounds a server that trickles bytes);
5. on a failure, asks the group's retry policy, and replays the request only if
   it is idempotent (or was never written) and its body is in memory, within
   ``max_attempts`` and the policy's ``deadline`` (which bounds every attempt
   and wait together); a 401 on an OAuth group refreshes the token and retries
   exactly once;
6. returns the response (2xx or a status in ``accept``) or raises a typed error
   from :mod:`syncline.sdk.errors` whose text names the request redacted.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from gzip import compress as gzip_compress
from typing import TYPE_CHECKING, Any
from urllib.request import getproxies

import httpx
import orjson
from pydantic import BaseModel

from syncline.http.failures import (
    network_error,
    network_text,
    reason_without_rule,
    status_error,
)
from syncline.http.limiter import Limiter, Limiters, LimiterTimeout, shared_limiters
from syncline.http.matching import EndpointMatcher
from syncline.http.oauth import OAuthSettings, TokenKeeper
from syncline.http.redact import Redactor
from syncline.http.retry import IDEMPOTENT, is_idempotent, is_replayable, retry_wait
from syncline.http.stats import GroupStats, SentRequest
from syncline.sdk.client import HttpClient
from syncline.sdk.env import SettingsStore, secret_values
from syncline.sdk.errors import (
    ConfigError,
    RateLimited,
    RetryableError,
)
from syncline.sdk.spec import NETWORK, ApplicationSpec, EndpointGroup, FailureReason, Timeouts

__all__ = ["Client"]

log = logging.getLogger("syncline.http")


class _DropTransportChatter(logging.Filter):
    """Drops httpx's and httpcore's info/debug records.

    httpx logs every request's full URL at INFO (query-string API keys
    included) and httpcore traces headers at DEBUG; neither can know our
    secrets. The client logs every attempt itself, redacted, on ``syncline.http``.
    Warnings and errors of those libraries still pass.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


_TRANSPORT_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
for _name in _TRANSPORT_LOGGERS:
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _DropTransportChatter) for f in _logger.filters):
        _logger.addFilter(_DropTransportChatter())


READ_CHUNK = 256 * 1024
"""Bytes httpcore reads from a connection at a time (its own default: 64 KiB)."""


def _read_larger_chunks() -> None:
    """Let httpcore read a response body up to :data:`READ_CHUNK` bytes at a time.

    Each read goes through anyio's cancel scopes and h11's receive buffer, tens
    of microseconds of Python; a page of a thousand records (about 700 KB) took
    more than ten reads of 64 KiB. asyncio's transport hands over up to 256 KiB
    at once, so larger reads take what arrived in one go. Measured on a
    200,000-record import: about 6% less wall time (docs/benchmarks.md). Set
    on httpcore's public HTTP/1.1 connection class, for the whole process, and
    only ever raised.
    """
    import httpcore

    if getattr(httpcore.AsyncHTTP11Connection, "READ_NUM_BYTES", READ_CHUNK) < READ_CHUNK:
        httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = READ_CHUNK


def _proxies_in_environment() -> bool:
    """Whether httpx would find a proxy for some scheme (``HTTPS_PROXY``, ``ALL_PROXY`` …).

    :func:`urllib.request.getproxies`, which httpx reads them with: the
    ``<scheme>_proxy`` variables, in any case (and a system's proxy settings
    where it has them). ``no_proxy`` alone names no proxy.
    """
    return any(scheme != "no" for scheme in getproxies())


class _PoolPerScheme(httpx.AsyncBaseTransport):
    """httpx's own transport, one for ``http://`` and one for every other scheme,
    each built on the first request that needs it.

    The ``https://`` transport is built exactly as ``httpx.AsyncClient`` builds
    its default one (``verify=True``, ``trust_env=True``: the CA bundle named by
    ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``, else certifi's), so TLS verification
    is what it always was; it is just not built by a client that sends only
    plain ``http://`` (a local API, a sandbox, a benchmark). The ``http://``
    transport never negotiates TLS; it is given an SSL context that trusts no
    CA at all, so that if it ever did, verification would fail rather than pass.

    ``httpx.AsyncClient`` reads proxies from the environment only for its own
    default transport, so this one is used only when no proxy is configured
    there (:func:`_proxies_in_environment`); otherwise the client is built as
    httpx builds it, proxies and all.

    ``limits`` apply to each transport: a client sending both ``http://`` and
    ``https://`` requests can hold up to twice ``max_connections``.
    """

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._plain: httpx.AsyncHTTPTransport | None = None
        self._tls: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            if self._plain is None:
                self._plain = httpx.AsyncHTTPTransport(
                    verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), limits=self._limits
                )
            return await self._plain.handle_async_request(request)
        if self._tls is None:
            self._tls = httpx.AsyncHTTPTransport(limits=self._limits)
        return await self._tls.handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._plain, self._tls):
            if transport is not None:
                await transport.aclose()


class _Route:
    """What the client keeps per endpoint group."""

    __slots__ = ("group", "limiter", "stats", "timeout")

    def __init__(self, group: EndpointGroup, limiter: Limiter) -> None:
        self.group = group
        self.limiter = limiter
        self.stats = GroupStats()
        t = group.timeouts
        # httpx bounds each phase; ``total`` is enforced around the whole attempt.
        self.timeout = {"connect": t.connect, "read": t.read, "write": t.read, "pool": t.total}


class _WireGate:
    """The httpcore ``trace`` hook of one attempt: takes the rate-limit token at the wire.

    httpcore awaits the hook just before it writes the request's headers, after
    a connection is ready. Taking the token there — not before ``send`` —
    means a busy event loop or a slow connection pool cannot delay requests
    after they were admitted and then put them on the wire together, faster
    than the bucket allows. ``sent_at`` stays None if nothing was written.
    """

    __slots__ = ("attempt", "budget", "client", "inner", "request", "route", "sent_at", "timer")

    def __init__(
        self,
        client: Client,
        route: _Route,
        request: httpx.Request,
        attempt: int,
        deadline: float,
        inner: Any,
    ) -> None:
        self.client = client
        self.route = route
        self.request = request
        self.attempt = attempt
        self.budget = deadline  # replaced by the attempt's time budget once admitted
        self.inner = inner
        self.sent_at: float | None = None
        self.timer: asyncio.Timeout | None = None

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        if self.sent_at is None and name.endswith("send_request_headers.started"):
            await self.admit()
        if self.inner is not None:
            result = self.inner(name, info)  # the caller's own hook, sync or async
            if inspect.isawaitable(result):
                await result

    async def admit(self) -> None:
        client, route = self.client, self.route
        deadline = self.budget
        waited = await route.limiter.acquire_token(deadline - client._clock())
        now = client._clock()
        self.sent_at = now
        # From here the attempt has Timeouts.total, within the policy's deadline.
        self.budget = min(route.group.timeouts.total, deadline - now)
        if self.timer is not None:
            self.timer.reschedule(asyncio.get_running_loop().time() + self.budget)
        stats = route.stats
        stats.limiter_wait += waited
        stats.requests += 1
        if self.attempt > 1:
            stats.retries += 1
        if client._listeners:
            client._notify(self.request, self.attempt, route.group.name)


class Client:
    """The managed HTTP client for one connection.

    ``spec`` gives the endpoint groups, OAuth and secret field names;
    ``settings`` is the connection's settings store (required for OAuth groups;
    its secret values are redacted). ``credential`` keys the rate-limit budget:
    clients with the same connector code and credential in one event loop share
    a budget (pass ``limiters`` to choose the registry, e.g. a store-backed
    one); without a credential the budget is this client's own. ``account``
    keys the OAuth refresh lock (default: ``credential``, else the connector
    code).

    Close with ``aclose()`` or use ``async with``, which also loads the secret
    values used by ``preview`` before the first request.
    """

    def __init__(
        self,
        spec: ApplicationSpec,
        settings: SettingsStore[Any] | None = None,
        *,
        credential: str | None = None,
        account: str | None = None,
        limiters: Limiters | None = None,
        max_connections: int = 100,
        user_agent: str = "syncline",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self._settings = settings
        self._credential = credential
        self._limiters = limiters
        self._clock = clock
        self._matcher = EndpointMatcher(spec)
        self._routes: dict[int, _Route] = {}
        self._known: set[str] = set()
        self._redactor = Redactor((), spec.secret_fields)
        self._listeners: list[Callable[[SentRequest], None]] = []
        self._hook_works = True
        self._max_connections = max_connections
        self._user_agent = user_agent
        # Built on the first request, and its https:// pool on the first https://
        # request (see _PoolPerScheme): loading the CA bundle into an SSL context
        # costs about 3 MB and 20-30 ms, which a client that never sends — a file
        # or database run builds two — or sends only plain http:// should not pay.
        self._pool: httpx.AsyncClient | None = None
        self._tokens: TokenKeeper | None = None
        if spec.oauth is not None and settings is not None:
            self._tokens = TokenKeeper(
                spec.oauth,
                settings,
                lambda: self._http,
                account or credential or spec.code,
                on_refresh=self._learn_tokens,
            )

    @property
    def _http(self) -> httpx.AsyncClient:
        """The connection pool, built on first use (see ``__init__``)."""
        if self._pool is None:
            default = Timeouts()
            limits = httpx.Limits(
                # httpx's default keep-alive pool: httpcore scans every idle
                # connection on each request, so a larger pool costs CPU per request.
                max_connections=self._max_connections,
                max_keepalive_connections=min(20, self._max_connections),
            )
            _read_larger_chunks()
            self._pool = httpx.AsyncClient(
                follow_redirects=False,
                timeout=httpx.Timeout(default.read, connect=default.connect, pool=default.total),
                limits=limits,
                headers={"user-agent": self._user_agent},
                # With a proxy in the environment, httpx's own transports (it
                # ignores the environment's proxies when given a transport).
                transport=None if _proxies_in_environment() else _PoolPerScheme(limits),
            )
        return self._pool

    # -- lifecycle ------------------------------------------------------------

    async def __aenter__(self) -> Client:
        await self.load_secrets()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; logs the per-group counters at debug level."""
        if log.isEnabledFor(logging.DEBUG):
            for name, stats in self.stats().items():
                log.debug("endpoint group %r: %s", name, stats)
        if self._pool is not None:
            await self._pool.aclose()

    async def load_secrets(self) -> None:
        """Reload the secret values to redact from the settings store (also done by every send)."""
        if self._settings is not None:
            self._learn_secrets(await self._settings.load())

    def _learn_secrets(self, settings: BaseModel) -> None:
        self._remember(secret_values(settings))

    def _learn_tokens(self, oauth: OAuthSettings) -> None:
        self._remember(t.get_secret_value() for t in (oauth.access_token, oauth.refresh_token) if t)

    def _remember(self, values: Iterable[str]) -> None:
        # Secrets are kept for the client's life: a rotated-out token or an old API
        # key is still a credential, and may still sit in a caller's URL or body.
        new = [v for v in values if v and v not in self._known]
        if new:
            self._known.update(new)
            self._redactor = self._redactor.with_secrets(self._known)

    # -- building -------------------------------------------------------------

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
        """Build a request without sending it (see :class:`~syncline.sdk.client.HttpClient`)."""
        if json is not None and content is not None:
            raise ValueError("build_request: give json or content, not both")
        merged = dict(headers or {})
        body = content
        if json is not None:
            body = orjson.dumps(json)
            if not any(k.lower() == "content-type" for k in merged):
                merged["Content-Type"] = "application/json"
        if gzip and body:
            body = gzip_compress(body, compresslevel=6)
            merged["Content-Encoding"] = "gzip"
        if isinstance(idempotency_key, str):
            if not idempotency_key:
                raise ValueError("build_request: idempotency_key is an empty string; use True")
            merged["Idempotency-Key"] = idempotency_key
        request = self._http.build_request(
            method.upper(), url, params=params, headers=merged, content=body
        )
        if idempotency_key:
            request.extensions[IDEMPOTENT] = True
        return request

    def preview(self, request: httpx.Request) -> httpx.Request:
        """A redacted copy of ``request`` (see :mod:`syncline.http.redact`)."""
        return self._redactor.request(request)

    def describe(self, request: httpx.Request) -> str:
        """``METHOD url`` redacted, as logs and errors name a request."""
        return self._redactor.describe(request)

    @property
    def redactor(self) -> Redactor:
        """The redactor in use (field names from the spec, values from the last settings load)."""
        return self._redactor

    # -- observing ------------------------------------------------------------

    def stats(self) -> dict[str, GroupStats]:
        """A copy of the counters of every endpoint group used so far, by group name."""
        return {r.group.name: r.stats.copy() for r in self._routes.values()}

    def on_send(self, listener: Callable[[SentRequest], None]) -> Callable[[], None]:
        """Call ``listener`` with every attempt actually sent; returns a function that removes it.

        The listener sees credentials as sent: use it in tests, never for logs.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @contextmanager
    def capture(self) -> Iterator[list[SentRequest]]:
        """``with client.capture() as sent:`` collects every attempt sent inside the block."""
        sent: list[SentRequest] = []
        remove = self.on_send(sent.append)
        try:
            yield sent
        finally:
            remove()

    def wait_time(self, method: str, url: str) -> float:
        """Seconds a request to ``url`` would wait for its rate limiter now (0: none)."""
        request = httpx.Request(method.upper(), url)
        return self._route(request).limiter.estimate()

    # -- sending --------------------------------------------------------------

    def _route(self, request: httpx.Request) -> _Route:
        group = self._matcher.match(request.method, request.url)
        if group is None:
            raise self._matcher.no_match(request.method, self._redactor.url(request.url))
        route = self._routes.get(id(group))
        if route is None:
            limiters = self._limiters
            if limiters is None:
                limiters = shared_limiters() if self._credential is not None else Limiters()
                self._limiters = limiters
            key = (self.spec.code, self._credential or f"client-{id(self)}", group.name)
            route = _Route(group, limiters.get(key, group.rate_limit))
            self._routes[id(group)] = route
        return route

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
        request = self.build_request(
            method,
            url,
            params=params,
            headers=headers,
            json=json,
            content=content,
            idempotency_key=idempotency_key,
            gzip=gzip,
        )
        return await self.send(request, accept=accept)

    async def send(self, request: httpx.Request, *, accept: Collection[int] = ()) -> httpx.Response:
        """Send ``request``; see the module docstring and :class:`~syncline.sdk.client.HttpClient`.

        Raises ``NoEndpointGroup`` (no group matches), ``RateLimited`` (429),
        ``RetryableError`` (408, 5xx, network errors, timeouts, the deadline),
        ``AuthError`` (401 — after one refresh and retry on OAuth groups — and
        403), ``PermanentError`` (any other status not in ``accept``),
        ``ConfigError`` (an OAuth group without OAuth settings). A request that
        is not idempotent is sent at most once, except that a 401 on an OAuth
        group is retried once with a new token (the app did not act on it).
        """
        route = self._route(request)
        group = route.group
        policy = group.retry
        limiter = route.limiter
        stats = route.stats
        clock = self._clock
        start = clock()
        deadline = start + policy.deadline
        replayable = is_replayable(request)
        retry_allowed = replayable and is_idempotent(request)
        token: str | None = None
        if self._settings is not None:
            settings = await self._settings.load()
            self._learn_secrets(settings)
            if group.requires_oauth:
                if self._tokens is None:
                    raise ConfigError("the spec has no oauth; the group cannot require OAuth")
                token = await self._tokens.access_token(settings)
                request.headers["Authorization"] = f"Bearer {token}"
        elif group.requires_oauth:
            raise ConfigError(
                f"endpoint group {group.name!r} requires OAuth but the client has no settings "
                "store; construct Client(spec, settings_store)"
            )
        refreshed = False
        attempt = 0
        caller_trace = request.extensions.get("trace")
        if isinstance(caller_trace, _WireGate):  # the same request sent again
            caller_trace = caller_trace.inner
        while True:
            attempt += 1
            now = clock()
            if now >= deadline:
                raise RetryableError(
                    f"gave up after {attempt - 1} attempt(s): RetryPolicy.deadline "
                    f"({policy.deadline:g} s) passed",
                    request=self.describe(request),
                )
            try:
                await limiter.acquire_slot(deadline - now)
            except LimiterTimeout as exc:
                raise self._held_past_deadline(request, exc.wait) from None
            gate = _WireGate(self, route, request, attempt, deadline, caller_trace)
            request.extensions["trace"] = gate
            request.extensions["timeout"] = route.timeout
            response: httpx.Response | None = None
            failure: BaseException | None = None
            try:
                async with asyncio.timeout(deadline - clock()) as gate.timer:
                    if not self._hook_works:
                        await gate.admit()
                    response = await self._http.send(request)
            except (httpx.TransportError, TimeoutError) as exc:
                failure = exc
            except LimiterTimeout as exc:
                raise self._held_past_deadline(request, exc.wait) from None
            finally:
                limiter.release()
            if gate.sent_at is None:
                if response is not None:
                    await self._hook_did_not_run(gate)
                elif isinstance(failure, TimeoutError):
                    # Still waiting for a connection or a token when the deadline came.
                    raise self._held_past_deadline(request, limiter.estimate())
            sent_at = gate.sent_at if gate.sent_at is not None else now
            elapsed = clock() - sent_at
            # Nothing was written (connection refused, DNS …): any request may go again.
            written = gate.sent_at is not None
            budget = gate.budget

            if response is None:
                stats.failures += 1
                what = network_text(failure, budget, group.timeouts.total)
                self._debug(request, what, elapsed, attempt, group)
                strategy = policy.strategy_for(NETWORK)
                if strategy is None:
                    await limiter.record(FailureReason.NET_FAILURE)
                    raise network_error(what, self.describe(request), None)
                reason, wait, _ = retry_wait(strategy, None, attempt - 1)
                await limiter.record(reason, wait)
                allowed = retry_allowed or (replayable and not written)
                stop = self._why_stop(allowed, attempt, policy.max_attempts, wait, deadline)
                if stop:
                    raise network_error(what, self.describe(request), stop)
                await asyncio.sleep(wait)
                continue

            stats.observe(elapsed)
            status = response.status_code
            self._debug(request, f"HTTP {status}", elapsed, attempt, group)
            if 200 <= status < 300 or status in accept:
                await limiter.record(None)
                return response
            stats.failures += 1
            if status == 429:
                stats.rate_limited += 1
            if (
                status == 401
                and token is not None
                and self._tokens is not None
                and not refreshed
                and replayable
                and attempt < policy.max_attempts
            ):
                # The app did not act on a request it refused, so even a POST may go again.
                refreshed = True
                await limiter.record(FailureReason.UNAUTHORIZED)
                token = await self._tokens.after_unauthorized(token)
                request.headers["Authorization"] = f"Bearer {token}"
                continue
            strategy = policy.strategy_for(status)
            if strategy is None:
                await limiter.record(reason_without_rule(status))
                raise status_error(response, self.describe(request), None, None, refreshed)
            reason, wait, told = retry_wait(strategy, response, attempt - 1)
            await limiter.record(reason, wait)
            hint = wait if told else None
            stop = self._why_stop(retry_allowed, attempt, policy.max_attempts, wait, deadline)
            if stop:
                raise status_error(response, self.describe(request), hint, stop, refreshed)
            if reason is not FailureReason.RATE_LIMITED:
                # A RATE_LIMITED wait is served by the paused limiter, for every request alike.
                await asyncio.sleep(wait)

    def _held_past_deadline(self, request: httpx.Request, wait: float) -> RateLimited:
        return RateLimited(
            "the rate limiter would hold the request past RetryPolicy.deadline",
            retry_after=wait,
            request=self.describe(request),
        )

    async def _hook_did_not_run(self, gate: _WireGate) -> None:
        # httpcore did not call the trace hook (its event names changed): the
        # request went out without a token. Account for it now and take tokens
        # before sending from here on, which keeps the budget right.
        self._hook_works = False
        log.warning(
            "syncline.http: the transport's trace hook did not run; rate-limit tokens are "
            "now taken before sending, which is less precise under CPU load"
        )
        await gate.admit()

    def _why_stop(
        self, retry_allowed: bool, attempt: int, max_attempts: int, wait: float, deadline: float
    ) -> str | None:
        if not retry_allowed:
            return (
                "not retried: the request is not idempotent or its body is a stream "
                "(pass idempotency_key to build_request to allow retries)"
            )
        if attempt >= max_attempts:
            return f"gave up after {attempt} attempts (RetryPolicy.max_attempts)"
        if self._clock() + wait >= deadline:
            return (
                f"gave up after {attempt} attempt(s): the next wait would pass RetryPolicy.deadline"
            )
        return None

    def _notify(self, request: httpx.Request, attempt: int, group: str) -> None:
        body = request.content if is_replayable(request) else b""
        sent = SentRequest(
            request.method,
            str(request.url),
            tuple(request.headers.multi_items()),
            body,
            attempt,
            group,
        )
        for listener in list(self._listeners):
            listener(sent)

    def _debug(
        self, request: httpx.Request, what: str, elapsed: float, attempt: int, group: EndpointGroup
    ) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s -> %s in %.1f ms (attempt %d, group %r)",
                self.describe(request),
                what,
                elapsed * 1000,
                attempt,
                group.name,
            )


if TYPE_CHECKING:

    def _implements_the_protocol(client: Client) -> HttpClient:
        return client  # mypy checks that Client satisfies HttpClient
