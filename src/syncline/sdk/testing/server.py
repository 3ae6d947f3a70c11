"""A fault-injecting HTTP/1.1 server on 127.0.0.1 for tests, sandboxes and benchmarks.

Real HTTP over real sockets (asyncio streams and h11), so a client under test
meets real keep-alive, real resets and real slow peers — never a mocked
transport. Start it as an async context manager, or from a thread for sync code::

    async with FaultServer() as server:
        server.route("GET", "/items/{id}", lambda req: {"id": req.path_params["id"]})
        server.script("/items/1", [503, Reply(429, retry_after=1), 200])
        ...                                   # requests to server.url + "/items/1"
        assert [r.status for r in server.requests("/items/1")] == [503, 429, 200]

    with FaultServer().run_in_thread() as server:   # for sync code
        ...

How a request is answered, first rule that applies:

0. an interceptor (:meth:`FaultServer.intercept`) that returns a step — fault
   modes and vendor rate limits of a sandbox;
1. the rate limit (:meth:`FaultServer.rate_limit`) answers 429 when its bucket is empty;
2. the next unused step of a script for the request's path (:meth:`FaultServer.script`);
3. the most recently added route whose method and path pattern match (:meth:`FaultServer.route`);
4. otherwise ``404`` with a JSON error.

Transforms (:meth:`FaultServer.transform`) then change the chosen reply (a
sandbox's slow and truncated-body fault modes). A step or a handler's result is a status code (empty body), a :class:`Reply`
(status, body, headers, ``Retry-After``, delays, trickled or truncated body), a
fault (:data:`RESET`: abort the connection with a TCP RST; :data:`HANG`: never
answer), or any other value, which is sent as a ``200`` JSON body.

Every request is logged (:attr:`FaultServer.log`) with its arrival time before
it is answered; its ``status`` and ``answered_at`` are filled when the status
line goes out (``status`` stays None for a reset or a hang).

Run ``python -m syncline.sdk.testing.server --rate 200 --burst 20`` to serve a
rate-limited echo endpoint from a separate process (benchmarks); it prints its
URL on the first line of stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import inspect
import itertools
import logging
import math
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias
from urllib.parse import parse_qsl, urlsplit

import h11
import orjson

__all__ = [
    "HANG",
    "RESET",
    "FaultServer",
    "Handler",
    "Hang",
    "Interceptor",
    "RateLimitRule",
    "ReceivedRequest",
    "Reply",
    "Reset",
    "Step",
    "Transform",
]

log = logging.getLogger("syncline.sdk.testing.server")

RetryAfterForm: TypeAlias = Literal["seconds", "decimal", "date"]


@dataclass(slots=True)
class ReceivedRequest:
    """One request as the server received it.

    ``arrived_at`` is wall-clock time (``time.time()``) when the request was
    complete; ``answered_at`` when the status line was written (None for a reset
    or a hang). Header names are lower-case. ``connection`` numbers the TCP
    connection, so keep-alive reuse is visible.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes
    arrived_at: float
    connection: int
    path_params: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    answered_at: float | None = None

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def params(self) -> dict[str, str]:
        """Query parameters (the last value wins for repeated names)."""
        return dict(self.query)

    def json(self) -> Any:
        """The body decoded as JSON (raises ``orjson.JSONDecodeError`` if it is not)."""
        return orjson.loads(self.body)

    def form(self) -> dict[str, str]:
        """The body decoded as ``application/x-www-form-urlencoded``."""
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


@dataclass(frozen=True, slots=True)
class Reply:
    """A response, with optional faults.

    ``json`` is encoded when ``body`` is None. ``retry_after`` adds a
    ``Retry-After`` header, as whole seconds (rounded up), decimal seconds, or an
    HTTP date ``retry_after`` seconds from now (rounded up to the next second,
    so a client honouring it never comes back early). ``delay`` holds the status
    line back (slow headers). ``trickle`` sends the body ``chunk_size`` bytes at
    a time with that many seconds between chunks. ``truncate`` sends only the
    first ``truncate`` bytes of the body, then closes the connection, although
    ``Content-Length`` declares the whole body.
    """

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    retry_after_form: RetryAfterForm = "seconds"
    delay: float = 0.0
    trickle: float = 0.0
    chunk_size: int = 1
    truncate: int | None = None

    @classmethod
    def malformed_json(cls, status: int = 200) -> Reply:
        """A response that says it is JSON but is cut off mid-document."""
        return cls(status, body=b'{"items": [{"id": 1}, {"id": ', headers=_JSON_TYPE)

    def encoded_body(self) -> bytes:
        if self.body is not None:
            return self.body
        if self.json is None:
            return b""
        return orjson.dumps(self.json)


@dataclass(frozen=True, slots=True)
class Reset:
    """Abort the connection with a TCP RST instead of answering."""


@dataclass(frozen=True, slots=True)
class Hang:
    """Never answer; the connection stays open until the client or the server closes it."""


RESET = Reset()
HANG = Hang()

Step: TypeAlias = int | Reply | Reset | Hang
Handler: TypeAlias = Callable[[ReceivedRequest], Any]
"""``handler(request)`` returns (or awaits to) a Step, or a value sent as 200 JSON."""
Interceptor: TypeAlias = Callable[[ReceivedRequest], Step | None]
"""``interceptor(request)`` returns a Step to answer with, or None to go on."""
Transform: TypeAlias = Callable[[ReceivedRequest, "Reply"], "Reply"]
"""``transform(request, reply)`` returns the reply to send instead (or ``reply`` itself)."""

_JSON_TYPE = {"content-type": "application/json"}


@dataclass(slots=True)
class RateLimitRule:
    """A server-side token bucket: ``requests_per_second`` sustained, ``burst`` at once.

    Requests whose path starts with ``prefix`` take a token; without one they get
    429 with ``Retry-After`` (in ``retry_after_form``, or none when it is None)
    telling the time until the next token.
    """

    requests_per_second: float
    burst: int
    prefix: str = "/"
    retry_after_form: RetryAfterForm | None = "seconds"
    tokens: float = 0.0
    updated: float = 0.0
    refused: int = 0

    def take(self, now: float) -> float:
        """Take a token and return 0, or return seconds until the next token."""
        self.tokens = min(
            float(self.burst), self.tokens + (now - self.updated) * self.requests_per_second
        )
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        self.refused += 1
        return (1.0 - self.tokens) / self.requests_per_second


@dataclass(slots=True)
class _Route:
    method: str
    regex: re.Pattern[str]
    handler: Handler


def _compile_path(pattern: str) -> re.Pattern[str]:
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern {pattern!r} must start with '/'")
    regex = ""
    last = 0
    for match in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}", pattern):
        regex += re.escape(pattern[last : match.start()])
        regex += f"(?P<{match[1]}>{'.*' if match[2] else '[^/]+'})"
        last = match.end()
    regex += re.escape(pattern[last:])
    return re.compile(f"^{regex}$")


class FaultServer:
    """A real HTTP server on 127.0.0.1 whose answers a test scripts.

    ``port=0`` picks a free port; :attr:`url` is known once started. The
    configuration methods may be called at any time, also from another thread
    while the server runs in :meth:`run_in_thread`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.log: list[ReceivedRequest] = []
        self._routes: list[_Route] = []
        self._scripts: dict[tuple[str | None, str], deque[Step]] = {}
        self._limits: list[RateLimitRule] = []
        self._interceptors: list[Interceptor] = []
        self._transforms: list[Transform] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Event | None = None
        self._connections = itertools.count(1)

    # -- configuration -------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("FaultServer.url: the server is not started")
        return f"http://{self.host}:{self.port}"

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Answer ``method`` (``"*"``: any) requests to ``path`` with ``handler``.

        ``path`` may hold ``{name}`` segments (one path segment) and
        ``{name:path}`` (the rest of the path, slashes included), given to the
        handler in ``request.path_params``. Later routes take precedence over earlier ones.
        """
        self._routes.insert(0, _Route(method.upper(), _compile_path(path), handler))

    def script(self, path: str, steps: Sequence[Step], *, method: str | None = None) -> None:
        """Answer the next requests to exactly ``path`` (any query) with ``steps``, in order.

        Steps are appended to any still unused for the same path and method;
        once spent, requests fall through to the routes.
        """
        key = (method.upper() if method else None, path)
        self._scripts.setdefault(key, deque()).extend(steps)

    def rate_limit(
        self,
        requests_per_second: float,
        burst: int,
        *,
        prefix: str = "/",
        retry_after: RetryAfterForm | None = "seconds",
    ) -> RateLimitRule:
        """Refuse requests under ``prefix`` beyond a token bucket with 429. Returns the rule."""
        rule = RateLimitRule(
            requests_per_second, burst, prefix, retry_after, float(burst), time.monotonic()
        )
        self._limits.append(rule)
        return rule

    def intercept(self, interceptor: Interceptor) -> Callable[[], None]:
        """Consult ``interceptor`` before anything else for every request.

        It returns a step to answer with, or None to let the rate limits,
        scripts and routes answer. Interceptors run in the order they were
        added; the first step wins. Returns a function that removes it.
        """
        self._interceptors.append(interceptor)
        return lambda: self._interceptors.remove(interceptor)

    def transform(self, transform: Transform) -> Callable[[], None]:
        """Pass every reply (not resets or hangs) through ``transform`` before it is sent.

        Transforms run in the order they were added. Returns a function that removes it.
        """
        self._transforms.append(transform)
        return lambda: self._transforms.remove(transform)

    def clear(self) -> None:
        """Forget the log, scripts, rate limits, interceptors, transforms and routes."""
        self.log.clear()
        self._interceptors.clear()
        self._transforms.clear()
        self._scripts.clear()
        self._limits.clear()
        self._routes.clear()

    def requests(self, path: str | None = None, method: str | None = None) -> list[ReceivedRequest]:
        """Logged requests, optionally only those to ``path`` and/or with ``method``."""
        return [
            r
            for r in list(self.log)
            if (path is None or r.path == path) and (method is None or r.method == method.upper())
        ]

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        assert self._stopping is not None
        self._stopping.set()
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> FaultServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[FaultServer]:
        """Serve from a daemon thread with its own event loop, for sync code."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # report to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="fault-server", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    # -- serving -------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = h11.Connection(h11.SERVER)
        number = next(self._connections)
        try:
            while await self._one_exchange(conn, number, reader, writer):
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _one_exchange(
        self,
        conn: h11.Connection,
        number: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Read one request and answer it; True if the connection may be reused."""
        head = await _next_event(conn, reader)
        if not isinstance(head, h11.Request):
            return False
        body = bytearray()
        while True:
            event = await _next_event(conn, reader)
            if isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                return False
        target = urlsplit(head.target.decode("ascii", "replace"))
        request = ReceivedRequest(
            method=head.method.decode("ascii"),
            path=target.path,
            query=tuple(parse_qsl(target.query, keep_blank_values=True)),
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers),
            body=bytes(body),
            arrived_at=time.time(),
            connection=number,
        )
        self.log.append(request)
        step = await self._decide(request)
        if isinstance(step, Reset):
            _abort(writer)
            return False
        if isinstance(step, Hang):
            await self._hang(reader)
            return False
        reply = step if isinstance(step, Reply) else Reply(step)
        for transform in list(self._transforms):
            reply = transform(request, reply)
        return await self._write_reply(conn, writer, request, reply)

    async def _decide(self, request: ReceivedRequest) -> Step:
        for interceptor in list(self._interceptors):
            step = interceptor(request)
            if step is not None:
                return step
        now = time.monotonic()
        for rule in self._limits:
            if request.path.startswith(rule.prefix):
                wait = rule.take(now)
                if wait > 0:
                    if rule.retry_after_form is None:
                        return Reply(429, json={"error": "rate limited"})
                    return Reply(
                        429,
                        json={"error": "rate limited"},
                        retry_after=wait,
                        retry_after_form=rule.retry_after_form,
                    )
        for key in ((request.method, request.path), (None, request.path)):
            steps = self._scripts.get(key)
            if steps:
                return steps.popleft()
        for route in self._routes:
            if route.method not in ("*", request.method):
                continue
            match = route.regex.match(request.path)
            if match is None:
                continue
            request.path_params = match.groupdict()
            try:
                result = route.handler(request)
                if inspect.isawaitable(result):
                    result = await result
            except Exception:
                log.exception("handler for %s %s raised", request.method, request.path)
                return Reply(500, json={"error": "handler raised an exception"})
            return _as_step(result)
        return Reply(404, json={"error": f"no route for {request.method} {request.path}"})

    async def _hang(self, reader: asyncio.StreamReader) -> None:
        assert self._stopping is not None
        stop = asyncio.ensure_future(self._stopping.wait())
        eof = asyncio.ensure_future(reader.read())
        try:
            await asyncio.wait({stop, eof}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            eof.cancel()

    async def _write_reply(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        request: ReceivedRequest,
        reply: Reply,
    ) -> bool:
        if reply.delay > 0:
            await asyncio.sleep(reply.delay)
        body = reply.encoded_body()
        headers: dict[str, str] = {"date": email.utils.formatdate(usegmt=True)}
        if reply.body is None and reply.json is not None:
            headers["content-type"] = "application/json"
        headers.update({k.lower(): v for k, v in reply.headers.items()})
        if reply.retry_after is not None:
            headers["retry-after"] = _retry_after_value(reply.retry_after, reply.retry_after_form)
        headers["content-length"] = str(len(body))
        request.status = reply.status
        request.answered_at = time.time()
        head = conn.send(h11.Response(status_code=reply.status, headers=list(headers.items())))
        assert head is not None
        if reply.truncate is not None:
            writer.write(head + body[: reply.truncate])
            await writer.drain()
            writer.close()
            return False
        if reply.trickle > 0 and body:
            writer.write(head)
            size = max(1, reply.chunk_size)
            for start in range(0, len(body), size):
                await writer.drain()
                await asyncio.sleep(reply.trickle)
                chunk = conn.send(h11.Data(data=body[start : start + size]))
                assert chunk is not None
                writer.write(chunk)
            end = conn.send(h11.EndOfMessage())
            assert end is not None
            writer.write(end)
        else:
            data = conn.send(h11.Data(data=body)) if body else b""
            end = conn.send(h11.EndOfMessage())
            assert data is not None and end is not None
            writer.write(head + data + end)
        await writer.drain()
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
            continue
        return event


def _as_step(result: Any) -> Step:
    if isinstance(result, Reply | Reset | Hang):
        return result
    if isinstance(result, int) and not isinstance(result, bool):
        return Reply(result)
    return Reply(200, json=result)


def _retry_after_value(seconds: float, form: RetryAfterForm) -> str:
    if form == "decimal":
        return f"{seconds:.3f}"
    if form == "date":
        # Dates have one-second resolution: round up so the client never returns early.
        return email.utils.formatdate(math.ceil(time.time() + seconds), usegmt=True)
    return str(max(1, math.ceil(seconds)))


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0 so the kernel sends RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``/api/...`` (any method: ``{"ok": true}``) until interrupted.

    ``--rate``/``--burst`` rate-limit ``/api/``; ``GET /stats`` answers
    ``{"served": n, "refused": n}`` (requests to ``/api/`` answered 200 and 429).
    """
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=None, help="requests/second (429 beyond)")
    parser.add_argument("--burst", type=int, default=1)
    parser.add_argument("--retry-after", choices=["seconds", "decimal", "date"], default="seconds")
    args = parser.parse_args(argv)

    async def serve() -> None:
        server = FaultServer(port=args.port)
        served = 0

        def ok(request: ReceivedRequest) -> Any:
            nonlocal served
            served += 1
            return {"ok": True}

        rule = None
        if args.rate:
            rule = server.rate_limit(
                args.rate, args.burst, prefix="/api/", retry_after=args.retry_after
            )
        server.route("*", "/api/{rest:path}", ok)
        server.route(
            "GET", "/stats", lambda r: {"served": served, "refused": rule.refused if rule else 0}
        )
        async with server:
            print(server.url, flush=True)
            # The log would grow without bound over a long benchmark; counts are enough.
            while True:
                await asyncio.sleep(1.0)
                server.log.clear()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
