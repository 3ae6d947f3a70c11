"""One serving process: the collector on uvicorn plus background services.

:func:`serve` runs until SIGINT/SIGTERM (or ``stop`` is set), in this order:

1. start the collector (group-commit writer, backlog estimate) and a task that
   re-reads the backlog every ``backlog_refresh_seconds``;
2. start each :class:`Service`, in the order given;
3. bind the socket and print ``listening on http://HOST:PORT`` (the real port
   when ``port`` is 0) and serve;
4. on a signal: stop accepting connections and let requests in flight finish —
   each still waits for its group commit, so every 200 sent is durable;
5. stop the services in reverse order, then commit whatever is still queued and
   close nothing else (the caller owns the store).

A background service is anything with ``async start()`` and ``async stop()``
(:class:`Service`): ``start`` returns once the service runs (spawn its tasks
there), ``stop`` returns once they have ended. Event delivery workers plug in
here, so that one ``syncline serve`` process accepts and delivers events. A
service whose ``start`` raises stops the process before it serves (services
already started are stopped again).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import uvicorn

from syncline.collect.app import Collector

__all__ = ["Service", "bind", "serve"]


class Service(Protocol):
    """A background part of the serving process, started and stopped with it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when ``host`` has a colon)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio turns Nagle's algorithm off (TCP_NODELAY)
    # only on accepted sockets that say they are TCP; with Nagle on, every answer
    # written in two parts waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def serve(
    collector: Collector,
    sock: socket.socket,
    *,
    services: Sequence[Service] = (),
    backlog_refresh_seconds: float = 1.0,
    announce: Callable[[str], None] = print,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve ``collector`` on the bound socket ``sock`` until a signal or ``stop``.

    See the module docs for the start and stop order. ``announce`` receives the
    "listening on" line. With ``stop`` given, setting it shuts down like a
    signal (tests use this to run the server inside their own event loop).
    """
    config = uvicorn.Config(
        collector,
        lifespan="off",
        # The peer address is the client: /v1/_stats trusts only loopback peers.
        proxy_headers=False,
        http="h11",
        loop="asyncio",
        access_log=False,
        log_level="warning",
        # Finish requests in flight (they are waiting for their commit).
        timeout_graceful_shutdown=30,
        # Batches from server libraries arrive every few seconds on one connection.
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    await collector.start()
    refresher = asyncio.create_task(_refresh(collector, backlog_refresh_seconds))
    started: list[Service] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        announce(f"listening on http://{shown}:{port}")
        watcher = None
        if stop is not None:
            watcher = asyncio.create_task(_watch(stop, server))
        try:
            with _signals_stop(server):
                await server.serve(sockets=[sock])
        finally:
            if watcher is not None:
                watcher.cancel()
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        for service in reversed(started):
            await service.stop()
        await collector.stop()


@contextlib.contextmanager
def _signals_stop(server: uvicorn.Server) -> Iterator[None]:
    """Make SIGINT/SIGTERM only ask the server to exit, also after it returned.

    uvicorn re-raises the signal it caught once it has shut down, which with the
    default handlers would end the process before the services are stopped and
    the queue is committed; with these handlers the re-raise is harmless.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def _watch(stop: asyncio.Event, server: uvicorn.Server) -> None:
    await stop.wait()
    server.should_exit = True


async def _refresh(collector: Collector, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        # A failed read (database briefly unreachable) keeps the last estimate.
        with contextlib.suppress(Exception):
            await collector.refresh_backlog()
