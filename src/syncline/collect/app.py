"""The collector: a Segment-compatible tracking API as a plain ASGI application.

Endpoints (``POST``): ``/v1/track``, ``/v1/identify``, ``/v1/page``,
``/v1/screen``, ``/v1/group``, ``/v1/alias`` (one message; the path sets its
type), their one-letter forms ``/v1/t|i|p|s|g|a``, and ``/v1/batch``, ``/v1/b``,
``/v1/import`` (a ``batch`` list). Also ``GET /health`` and ``GET /v1/_stats``
(only from the local machine). The tracking endpoints answer CORS preflights
(``OPTIONS``) and allow any origin, as browsers sending with analytics.js need.

Answers, checked in this order:

* **429** (``Retry-After``) — the event log is at its bound (``max_backlog``);
* **413** — the body, raw or inflated, exceeds ``max_request_bytes``;
* **400** — the body is not gzip when it says so, not JSON/UTF-8, not a JSON
  object, or a batch request whose ``batch`` is not a list;
* **401** — no write key, or a key no source has;
* **413** — more than ``max_batch_events`` events;
* **503** (``Retry-After``) — the log could not be written, or the server is
  stopping; nothing of the request is stored;
* **200** — the request's valid events are durably in the log. Events that
  fail their own checks are counted and listed in the stats, never stored.

Any non-200 answer stores nothing. The body of every answer is JSON:
``{"success": true, "accepted": N, "rejected": M}`` or ``{"success": false,
"code": ..., "message": ...}`` (the form analytics-python reads).

Starlette is not used on purpose: the hot path is one request shape, and a bare
ASGI callable avoids building request/response objects and a router per request.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson

from syncline.collect.auth import SourceKeys, body_write_key, header_write_key
from syncline.collect.body import BadBody, BodyTooLarge, decode_body, inflate, read_limited
from syncline.collect.commit import Backlog, CommitterStopped, GroupCommitter
from syncline.collect.normalize import normalize
from syncline.collect.settings import CollectorSettings
from syncline.collect.stats import CollectorStats
from syncline.collect.timestamps import TimeCorrector
from syncline.store import Store

__all__ = ["PATH_TYPES", "Collector"]

logger = logging.getLogger("syncline.collect")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PATH_TYPES: dict[str, str | None] = {
    "/v1/batch": None,
    "/v1/b": None,
    "/v1/import": None,
}
for _name in ("track", "identify", "page", "screen", "group", "alias"):
    PATH_TYPES[f"/v1/{_name}"] = _name
    PATH_TYPES[f"/v1/{_name[0]}"] = _name


class _Answer(Exception):
    """Ends a request early with a status and a fixed message."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None):
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class Collector:
    """The collector of one serving process: state, background tasks and the ASGI app.

    ``await start()`` before serving (starts the group commit, reads the
    backlog); ``await stop()`` after the server stopped taking requests
    (commits whatever is queued). The instance itself is the ASGI callable.
    ``on_commit`` is called after each durable commit of accepted events
    (``syncline serve`` passes the delivery service's ``notify``).
    """

    def __init__(
        self,
        store: Store,
        settings: CollectorSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or CollectorSettings()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.keys = SourceKeys(store.event_sources, self.settings.key_cache_seconds)
        self.committer = GroupCommitter(
            store.event_log, self.settings.max_commit_events, on_commit=on_commit
        )
        self.backlog = Backlog(store.event_log, self.settings.max_backlog)
        self.stats = CollectorStats(self.settings.recent_rejections)
        self._minutes = TimeCorrector.minutes_cache()
        self.stopping = False

    async def start(self) -> None:
        await self.backlog.refresh()
        self.committer.start()

    async def stop(self) -> None:
        self.stopping = True
        await self.committer.stop()

    async def refresh_backlog(self) -> None:
        """Re-read the log's size (delivery prunes it from another task or process)."""
        await self.backlog.refresh()

    # ASGI.

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path in PATH_TYPES:
            if method == "OPTIONS":
                await _preflight(send)
                return
            if method != "POST":
                await _reply(send, 405, _error("method_not_allowed", "use POST"), allow=b"POST")
                return
            status, body, retry_after = await self._track(scope, receive, PATH_TYPES[path])
            self.stats.response(status)
            await _reply(send, status, body, retry_after=retry_after, cors=True)
        elif path == "/health" and method == "GET":
            healthy = not self.stopping
            await _reply(send, 200 if healthy else 503, {"status": "ok" if healthy else "stopping"})
        elif path == "/v1/_stats" and method == "GET":
            if not _is_local(scope):
                await _reply(send, 403, _error("forbidden", "stats are served to 127.0.0.1 only"))
                return
            await _reply(send, 200, self.stats_json())
        else:
            await _reply(send, 404, _error("not_found", f"no endpoint {path}"))

    def stats_json(self) -> dict[str, Any]:
        data = self.stats.to_json()
        data["backlog"] = self.backlog.size + self.committer.pending_events
        data["max_backlog"] = self.settings.max_backlog
        data["commits"] = self.committer.commits
        data["committed_events"] = self.committer.committed_events
        return data

    async def _track(
        self, scope: Scope, receive: Receive, path_type: str | None
    ) -> tuple[int, dict[str, Any], int | None]:
        try:
            return 200, await self._accept(scope, receive, path_type), None
        except _Answer as answer:
            return answer.status, _error(answer.code, answer.message), answer.retry_after

    async def _accept(
        self, scope: Scope, receive: Receive, path_type: str | None
    ) -> dict[str, Any]:
        settings = self.settings
        if self.stopping:
            raise _Answer(503, "stopping", "the collector is shutting down; retry", 1)
        if self.backlog.size + self.committer.pending_events >= settings.max_backlog:
            raise _Answer(
                429,
                "backlog_full",
                "the event log is at its bound; retry later",
                settings.retry_after_seconds,
            )
        headers = dict(scope["headers"])
        header_key = header_write_key(headers)
        source = None
        if header_key is not None:
            source = await self.keys.source(header_key)
            if source is None:
                raise _Answer(401, "invalid_write_key", "the write key matches no event source")
        limit = settings.max_request_bytes
        try:
            raw = await read_limited(_body_chunks(receive), limit)
            if headers.get(b"content-encoding", b"").strip().lower() == b"gzip":
                raw = inflate(raw, limit)
            elif headers.get(b"content-encoding", b"identity").strip().lower() != b"identity":
                raise BadBody("unsupported Content-Encoding; send gzip or none")
            body = decode_body(raw)
        except BodyTooLarge:
            raise _Answer(
                413, "request_too_large", f"the request body exceeds {limit} bytes"
            ) from None
        except BadBody as bad:
            raise _Answer(400, "invalid_body", str(bad)) from None
        if path_type is None and not isinstance(body.get("batch"), list):
            raise _Answer(400, "invalid_body", "a batch request needs a 'batch' list")
        if source is None:
            body_key = body_write_key(body)
            if body_key is None:
                raise _Answer(
                    401,
                    "missing_write_key",
                    "send the write key as Basic auth user, Bearer token, X-Write-Key or writeKey",
                )
            source = await self.keys.source(body_key)
            if source is None:
                raise _Answer(401, "invalid_write_key", "the write key matches no event source")
        if path_type is None and len(body["batch"]) > settings.max_batch_events:
            raise _Answer(
                413,
                "too_many_events",
                f"a batch holds at most {settings.max_batch_events} events; split it",
            )
        received_at = self._clock()
        result = normalize(
            body,
            path_type,
            received_at,
            source.id,
            strict_event_bytes=settings.strict_event_bytes,
            minutes=self._minutes,
        )
        rows = result.rows
        if rows:
            try:
                await self.committer.submit(rows)
            except CommitterStopped:
                raise _Answer(503, "stopping", "the collector is shutting down; retry", 1) from None
            except Exception as error:
                # The type only: a driver's message can quote the event's values.
                logger.error(
                    "writing %d events to the event log failed: %s", len(rows), type(error).__name__
                )
                raise _Answer(
                    503, "store_unavailable", "the event log could not be written; retry", 1
                ) from None
            self.backlog.added(len(rows))
        self.stats.record(source.name, len(rows), result.rejections, received_at)
        return {"success": True, "accepted": len(rows), "rejected": len(result.rejections)}


async def _body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _error(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "code": code, "message": message}


async def _preflight(send: Send) -> None:
    """Answer a browser's CORS preflight for the tracking endpoints."""
    headers = [
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-methods", b"POST"),
        (
            b"access-control-allow-headers",
            b"Content-Type, Content-Encoding, Authorization, X-Write-Key",
        ),
        (b"access-control-max-age", b"86400"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _is_local(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


async def _reply(
    send: Send,
    status: int,
    body: dict[str, Any],
    *,
    retry_after: int | None = None,
    allow: bytes | None = None,
    cors: bool = False,
) -> None:
    payload = orjson.dumps(body)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if cors:
        # Browsers (analytics.js) read the answer only when it allows their origin;
        # without it a stored batch looks failed to them and is sent again.
        headers.append((b"access-control-allow-origin", b"*"))
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    if allow is not None:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
