"""One sender per destination connection: ordered, batched, retried delivery.

A :class:`Sender` owns the pending deliveries of one destination connection
(shared by all of its event pipelines) and feeds them to the connector's
``send_events`` through :class:`~syncline.sdk.events.Events`.

**Per-user order.** Deliveries are queued per user (anonymous ID, else user
ID) in routing order. Only a user's *head* — the oldest event not yet
delivered or dead-lettered — is ever offered, so a batch holds at most one
event per user and a user's later events wait while the head is in flight or
waiting for a retry. Hence a later event is never sent before an earlier one
of the same user is done (delivered, or dead-lettered). One event per user per
batch is deliberate: when a request carries two events of one user and the app
rejects the first retryably but accepts the second, the second has been
delivered before the first, and no bookkeeping can undo it.

**Batches** start when ``batch_size`` heads are ready, or the oldest ready
head has waited ``max_delay``, or waiting cannot make the batch bigger (every
user with a backlog is ready or in flight, or as many heads are ready as the
connector packed into its last request when that request left events behind),
after waiting what ``client.wait_time()`` says the rate limiter would hold the
request (for the URLs the connector used so far), with at most
``max_in_flight`` ``send_events`` calls at once. A call's slot is freed when
the connector returns, not when its outcome is committed: a slow commit must
not leave a rate-limited app idle. Its users stay in flight until the commit,
so per-user order does not depend on it.

**Outcomes** of one call are recorded in one transaction
(:meth:`~syncline.store.deliveries.Deliveries.settle`; calls that end while
one is being written share the next transaction): succeeded rows are
deleted, discarded and permanently failed ones become dead letters (with the
redacted request), retryable failures get a full-jitter backoff (or the app's
``Retry-After``) until the retry window is spent, and events the connector did
not consume go back to the front. A crash before that transaction leaves the
rows pending: the batch is sent again after a restart (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import logging
import operator
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from syncline.engine.delivery.pipelines import EventPipeline
from syncline.engine.delivery.settings import DeliverySettings
from syncline.sdk.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    PermanentError,
    RateLimited,
    RetryableError,
)
from syncline.sdk.events import Event, Events
from syncline.sdk.received import ReceivedEvent
from syncline.store.deliveries import Deliveries, Delivery, RetryUpdate, Settlement
from syncline.types import ValidationError

__all__ = ["Sender", "describe_request", "error_message"]

log = logging.getLogger("syncline.engine.delivery")

# A batch starts this long before the rate limiter would admit its request:
# building the request (settings, encoding) takes a few milliseconds, and
# starting only when the token is due would leave the limiter idle meanwhile.
_LEAD = 0.15


MAX_REQUEST_TEXT = 64 * 1024
"""The longest redacted request kept with a dead letter, in characters."""

# The requests one send_events call made, collected by the client's on_send
# hook; a context variable, because several calls run at once on one client.
_SENT: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "syncline_delivery_sent", default=None
)


# The sort key of a batch's items (row id order), resolved in C.
_ROW_ID: Callable[[_Item], int] = operator.attrgetter("row.id")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Item:
    row: Delivery
    attempts: int
    first_attempt_at: datetime | None
    due: float
    # Built on the first offer and kept: an event the connector postponed is
    # offered again without decoding its message again.
    event: Event | str | None = None


def error_message(error: BaseException) -> str:
    """The fixed message stored for ``error`` (no values of the event).

    Typed connector errors carry fixed messages by contract; any other
    exception is named by its type only, since its text may echo data.
    """
    if isinstance(error, ConnectorError):
        return str(error)[:2000]
    return f"the connector raised {type(error).__name__}; see the connector's logs"


def describe_request(request: httpx.Request) -> str:
    """``METHOD URL``, the headers and the body of a (redacted) request, as text."""
    lines = [f"{request.method} {request.url}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    body = request.content.decode("utf-8", "replace") if request.content else ""
    text = "\n".join(lines) + ("\n\n" + body if body else "")
    return text[:MAX_REQUEST_TEXT]


class Sender:
    """Delivers the pending events of one destination connection; see the module docstring.

    ``connector`` is the open connector (``.instance``, ``.http``); None when
    it could not be opened, and then every event is dead-lettered with
    ``why``. ``pipelines`` looks a pipeline up by id (the service's current
    catalog). Run it with :meth:`run` until ``stop`` is set; :meth:`wake`
    tells it new rows were committed.
    """

    def __init__(
        self,
        connection_id: int,
        name: str,
        connector: Any | None,
        why: str,
        pipelines: Callable[[int], EventPipeline | None],
        deliveries: Deliveries,
        settings: DeliverySettings,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.connection_id = connection_id
        self.name = name
        self.connector = connector
        self.why = why
        self.pipelines = pipelines
        self.deliveries = deliveries
        self.settings = settings
        self.clock = clock
        self.delivered = 0
        self.dead = 0
        self.retried = 0
        self._queues: dict[str, deque[_Item]] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._ready: deque[_Item] = deque()
        self._ready_since: float | None = None
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # The tasks still inside ``send_events``: max_in_flight bounds these,
        # not the calls already answered and waiting for their outcome's commit.
        self._calls: set[asyncio.Task[None]] = set()
        self._loaded_through = 0
        self._loaded = 0
        self._held: set[int] = set()
        self._offered: list[Delivery] = []
        self._caught_up = False
        self._swept = time.monotonic()
        self._more = True
        self._signal = asyncio.Event()
        self._urls: set[tuple[str, str]] = set()
        self._remove_hook: Callable[[], None] | None = None
        self._fit = settings.batch_size
        # Whether the last call left events behind: the connector packs at most
        # ``_fit`` of them into a request, so that many ready events fill one.
        self._packed = False
        self._to_settle: list[tuple[Settlement, asyncio.Future[None]]] = []
        self._settling = False
        if connector is not None and hasattr(connector.http, "on_send"):
            self._remove_hook = connector.http.on_send(self._on_send)

    # -- public ----------------------------------------------------------------

    def wake(self) -> None:
        """New pending rows may exist: look at the store on the next turn."""
        self._more = True
        self._signal.set()

    def offer(self, rows: list[Delivery]) -> None:
        """Rows just routed (committed, in id order): take them without reading the store.

        They are taken on the next turn if nothing pending lies between what
        the sender has read and the first of them; otherwise it reads the
        store as after :meth:`wake`.
        """
        self._offered.extend(rows)
        self._signal.set()

    @property
    def backlog(self) -> int:
        """Events held in memory (queued, ready or in flight)."""
        return self._loaded

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then cancel the calls in flight.

        A cancelled call records nothing: its rows stay pending and are sent
        again by the next sender of this connection.
        """
        last_poll = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                if self._offered:
                    await self._take_offered()
                if self._more or now - last_poll >= self.settings.poll:
                    last_poll = now
                    self._more = False
                    await self._load()
                if now - self._swept >= self.settings.sweep:
                    self._swept = now
                    await self._sweep()
                timeout = self._step(time.monotonic())
                if timeout is None:
                    continue
                if timeout > 0:
                    await self._pause(stop, timeout)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._remove_hook is not None:
                self._remove_hook()

    # -- scheduling --------------------------------------------------------------

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        self._signal.clear()
        waiters = {asyncio.ensure_future(self._signal.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _step(self, now: float) -> float | None:
        """Start a batch if one is due; return None to loop again, else seconds to sleep."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, user = heapq.heappop(heap)
            queue = self._queues.get(user)
            if queue:
                self._ready.append(queue[0])
                if self._ready_since is None:
                    self._ready_since = now
        poll = self.settings.poll
        next_due = heap[0][0] - now if heap else poll
        if not self._ready:
            return max(0.0, min(next_due, poll))
        if len(self._calls) >= self.settings.max_in_flight:
            return min(next_due, poll)
        assert self._ready_since is not None
        waited = now - self._ready_since
        full = self._fit if self._packed else self.settings.batch_size
        if len(self._ready) < full and waited < self.settings.max_delay and not self._cannot_grow():
            return min(self.settings.max_delay - waited, next_due)
        wait = self._wait_time()
        if wait > _LEAD:
            return min(wait - _LEAD, poll)
        self._start_batch(now)
        return None

    def _cannot_grow(self) -> bool:
        """Whether waiting could not make the next batch bigger.

        True when every user with queued events is ready or in flight and
        users have events queued behind their heads (a backlog being worked
        off): only one event per user goes in a batch, so waiting adds nothing.
        A trickle of single events still waits ``max_delay`` to form batches.
        """
        waiting_users = len(self._queues) - len(self._in_flight)
        return len(self._ready) >= waiting_users and self._loaded > len(self._queues)

    def _wait_time(self) -> float:
        if self.connector is None or not self._urls:
            return 0.0
        http = self.connector.http
        return float(max(http.wait_time(method, url) for method, url in self._urls))

    def _start_batch(self, now: float) -> None:
        # Offer about twice what the connector took last time (an app taking
        # 10 events per request gets windows of 20, not 500), at least 32.
        window_size = min(self.settings.batch_size, max(32, 2 * self._fit))
        take = min(len(self._ready), window_size)
        window = [self._ready.popleft() for _ in range(take)]
        window.sort(key=_ROW_ID)
        if not self._ready:
            self._ready_since = None
        for item in window:
            self._in_flight.add(item.row.user_key)
        task = asyncio.create_task(self._send(window), name=f"send {self.name}")
        self._tasks.add(task)
        self._calls.add(task)
        task.add_done_callback(self._done)

    def _answered(self) -> None:
        """The running call returned: its in-flight slot is free for the next batch."""
        task = asyncio.current_task()
        if task is not None and task in self._calls:
            self._calls.discard(task)
            self._signal.set()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._calls.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sender %r: a batch failed", self.name, exc_info=task.exception())
        self._signal.set()

    def _schedule(self, user: str, due: float) -> None:
        heapq.heappush(self._heap, (due, self._queues[user][0].row.id, user))

    def _due(self, row: Delivery, now_wall: datetime, now: float) -> float:
        if row.next_attempt_at is None:
            return 0.0
        return now + max(0.0, (row.next_attempt_at - now_wall).total_seconds())

    async def _take_offered(self) -> None:
        offered, self._offered = self._offered, []
        fresh = [row for row in offered if row.id > self._loaded_through]
        if not fresh:
            return
        fits = self._loaded + len(fresh) <= self.settings.max_loaded
        if (
            self._caught_up
            and fits
            and not await self.deliveries.pending_between(
                self.connection_id, self._loaded_through, fresh[0].id
            )
        ):
            self._hold(fresh)
            self._loaded_through = fresh[-1].id
        else:
            self._caught_up = False
            self._more = True

    async def _load(self) -> None:
        room = self.settings.max_loaded - self._loaded
        if room <= 0:
            self._caught_up = False
            return
        limit = min(self.settings.load_batch, room)
        rows = await self.deliveries.pending(self.connection_id, self._loaded_through, limit)
        self._caught_up = len(rows) < limit
        if not rows:
            return
        self._hold(rows)
        self._loaded_through = rows[-1].id
        if len(rows) == limit:
            self._more = True

    def _hold(self, rows: list[Delivery]) -> None:
        now_wall, now = self.clock(), time.monotonic()
        # Runs for every loaded row: attributes are read once into locals.
        held = self._held
        queues = self._queues
        heap = self._heap
        added = 0
        for row in rows:
            row_id = row.id
            if row_id in held:
                continue
            held.add(row_id)
            added += 1
            retry_at = row.next_attempt_at
            due = 0.0 if retry_at is None else self._due(row, now_wall, now)
            item = _Item(row, row.attempts, row.first_attempt_at, due)
            user = row.user_key
            queue = queues.get(user)
            if queue is None:
                queues[user] = deque((item,))
                heapq.heappush(heap, (due, row_id, user))
            elif queue[-1].row.id < row_id:
                queue.append(item)
            else:
                # A row that became visible late (see _sweep): keep id order,
                # behind the head if the head is in flight.
                items = sorted([*queue, item], key=lambda i: i.row.id)
                head = queue[0]
                if user in self._in_flight or head in self._ready:
                    items.remove(head)
                    items.insert(0, head)
                queue.clear()
                queue.extend(items)
        self._loaded += added

    async def _sweep(self) -> None:
        """Load pending rows below the read position that are not held (see pending_ids)."""
        if self._loaded >= self.settings.max_loaded or not self._loaded_through:
            return
        ids = await self.deliveries.pending_ids(self.connection_id, self._loaded_through)
        missing = [i for i in ids if i not in self._held]
        if missing:
            log.warning("sender %r: %d pending row(s) appeared late", self.name, len(missing))
            self._hold(await self.deliveries.by_ids(missing[: self.settings.load_batch]))

    # -- one call ----------------------------------------------------------------

    def _on_send(self, sent: Any) -> None:
        self._urls.add((sent.method, sent.url))
        found = _SENT.get()
        if found is not None:
            found.append(sent)

    def _events(
        self, window: list[_Item]
    ) -> tuple[list[Event], dict[int, _Item], list[tuple[_Item, str, str | None]]]:
        """The events to offer for ``window``, their owners by ``id()``, and the unsendable.

        The unsendable come as dead letters to record: ``(item, why, None)``.
        An item's event (or the fixed reason it cannot be sent, stored on
        ``item.event``) is built on its first offer and kept. Pipelines are
        looked up once per batch, not per event.
        """
        events: list[Event] = []
        owner: dict[int, _Item] = {}
        unsendable: list[tuple[_Item, str, str | None]] = []
        found: dict[int, tuple[EventPipeline | str, str]] = {}
        for item in window:
            event = item.event
            if event is None:
                event = item.event = self._event(item, found)
            if isinstance(event, str):
                unsendable.append((item, event, None))
            else:
                events.append(event)
                owner[id(event)] = item
        return events, owner, unsendable

    def _event(self, item: _Item, found: dict[int, tuple[EventPipeline | str, str]]) -> Event | str:
        """The event for a row, or the fixed reason it cannot be sent.

        ``found`` caches each pipeline of the batch (or why it cannot send)
        with its ID as text.
        """
        row = item.row
        cached = found.get(row.pipeline_id)
        if cached is None:
            cached = found[row.pipeline_id] = self._pipeline(row.pipeline_id)
        pipeline, pipeline_id = cached
        if isinstance(pipeline, str):
            return pipeline
        stored = row.values
        if stored is None:
            info = pipeline.type_info(None)
        else:
            try:
                info = pipeline.type_info(pipeline.values(stored))
            except ValidationError as error:
                return pipeline.invalid_message(error)
        message = row.message
        # The router's decoded message is shared by the pipelines that routed
        # it; a ReceivedEvent never modifies it. The collector normalized it
        # before logging it (the event log's contract), so it is not checked
        # again here: each field is checked when the connector reads it.
        received = ReceivedEvent.from_normalized(
            message if message is not None else orjson.loads(row.payload)
        )
        return Event(pipeline_id, received, info)

    def _pipeline(self, pipeline_id: int) -> tuple[EventPipeline | str, str]:
        """The pipeline ``pipeline_id`` with its ID as text, or why its events cannot be sent."""
        if self.connector is None:
            return self.why, ""
        pipeline = self.pipelines(pipeline_id)
        if pipeline is None:
            return "the event pipeline is disabled or gone; enable it and replay the event", ""
        if pipeline.broken is not None:
            return pipeline.broken, ""
        return pipeline, str(pipeline.id)

    async def _send(self, window: list[_Item]) -> None:
        now_wall = self.clock()
        counts: Counter[tuple[int, str]] = Counter()
        delivered: list[_Item] = []
        retry: list[tuple[_Item, BaseException]] = []
        back: list[_Item] = []
        events, owner, dead = self._events(window)
        request_text: str | None = None
        if events:
            batch = Events(events)
            sent: list[Any] = []
            token = _SENT.set(sent)
            assert self.connector is not None  # no connector: every event is dead above
            try:
                await self.connector.instance.send_events(batch)
            except Exception as error:
                outcome = batch.close(error)
            except BaseException as error:
                batch.close(error)
                raise
            else:
                outcome = batch.close()
            finally:
                _SENT.reset(token)
            # Redacting a whole body costs as much as encoding it: only for
            # events that fail (a dead letter or a retry keeps its request).
            if outcome.discarded or outcome.failed:
                request_text = self._request_text(sent)
            for event in outcome.succeeded:
                delivered.append(owner[id(event)])
            for event, dropped in outcome.discarded:
                dead.append((owner[id(event)], error_message(dropped), request_text))
            for event, failure in outcome.failed:
                retry.append((owner[id(event)], failure))
            back = [owner[id(event)] for event in outcome.remaining]
            if back:
                self._fit = max(1, len(events) - len(back))
                self._packed = True
            else:
                self._fit = max(self._fit, len(events))
                self._packed = False
            if outcome.violation and not outcome.succeeded and not outcome.failed:
                if not outcome.discarded and back:
                    # Calling again with the same events would spin: the first
                    # one is dead-lettered so every call makes progress.
                    stuck = back.pop(0)
                    dead.append((stuck, f"connector contract: {outcome.violation}", None))
                log.error("sender %r: %s", self.name, outcome.violation)
        self._answered()
        # Events the connector did not take were not sent: they go back to the
        # front now, while the outcome of the others is being committed.
        now = time.monotonic()
        for item in reversed(back):
            self._in_flight.discard(item.row.user_key)
            self._ready.appendleft(item)
            if self._ready_since is None:
                self._ready_since = now
        updates: list[RetryUpdate] = []
        retried: list[tuple[_Item, float]] = []
        for item, failure in retry:
            attempts = item.attempts + 1
            first = item.first_attempt_at or now_wall
            decision = self._retry(failure, attempts, first, now_wall)
            if decision is None:
                dead.append((item, error_message(failure), request_text))
                continue
            item.attempts, item.first_attempt_at = attempts, first
            retried.append((item, decision))
            updates.append(
                RetryUpdate(
                    item.row.id,
                    attempts,
                    first,
                    datetime.fromtimestamp(now_wall.timestamp() + decision, UTC),
                    error_message(failure),
                    request_text,
                )
            )
            counts[(item.row.pipeline_id, "retried")] += 1
        for item, message, request in dead:
            updates.append(
                RetryUpdate(
                    item.row.id,
                    item.attempts + (1 if request is not None else 0),
                    item.first_attempt_at or now_wall,
                    None,
                    message,
                    request,
                    dead=True,
                )
            )
            counts[(item.row.pipeline_id, "dead")] += 1
        # Counted per pipeline in one C-level pass, not one tuple per event.
        for pipeline_id, n in Counter([item.row.pipeline_id for item in delivered]).items():
            counts[(pipeline_id, "delivered")] += n
        try:
            await self._settle(Settlement([item.row.id for item in delivered], updates, counts))
        except Exception:
            # Nothing was recorded: the rows keep their state in the store and
            # go again (a delivered one is sent twice: at-least-once).
            log.exception("sender %r: cannot record a batch's outcome; retrying it", self.name)
            now = time.monotonic()
            returned = {id(item) for item in back}
            for item in window:
                if id(item) not in returned:
                    self._release(item, requeue_at=now + 1.0)
            return
        now = time.monotonic()
        self._finish_all(delivered)
        self._finish_all([item for item, _, _ in dead])
        for item, delay in retried:
            self._release(item, requeue_at=now + delay)
        self.delivered += len(delivered)
        self.dead += len(dead)
        self.retried += len(retried)

    async def _settle(self, settlement: Settlement) -> None:
        """Record ``settlement``, together with those of calls that ended meanwhile.

        Group commit: the first call to finish writes every settlement queued
        while it writes, in one transaction each round, so calls in flight do
        not queue for the write lock one by one. Each caller returns once its
        own settlement is durable (or raises what the write raised).
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._to_settle.append((settlement, future))
        if not self._settling:
            self._settling = True
            try:
                while self._to_settle:
                    batch, self._to_settle = self._to_settle, []
                    merged = Settlement([], [], Counter())
                    for part, _ in batch:
                        merged.delivered += part.delivered
                        merged.updates += part.updates
                        merged.counts.update(part.counts)
                    try:
                        await self.deliveries.settle(merged)
                    except Exception as error:
                        for _, waiter in batch:
                            if not waiter.done():
                                waiter.set_exception(error)
                    else:
                        for _, waiter in batch:
                            if not waiter.done():
                                waiter.set_result(None)
            finally:
                self._settling = False
        await future

    def _retry(
        self, error: BaseException, attempts: int, first: datetime, now_wall: datetime
    ) -> float | None:
        """Seconds until the next attempt, or None to dead-letter the event."""
        if isinstance(error, PermanentError) or not isinstance(
            error, RetryableError | AuthError | ConfigError
        ):
            return None
        retry_after = error.retry_after if isinstance(error, RetryableError) else None
        told = isinstance(error, RateLimited) and retry_after is not None
        if not told and attempts >= self.settings.max_attempts:
            return None
        delay = self.settings.backoff(attempts, retry_after)
        if (now_wall - first).total_seconds() + delay > self.settings.retry_window:
            return None
        return delay

    def _finish_all(self, items: list[_Item]) -> None:
        """These heads are done: drop them and offer each user's next event."""
        in_flight = self._in_flight
        queues = self._queues
        held = self._held
        heap = self._heap
        for item in items:
            user = item.row.user_key
            in_flight.discard(user)
            queue = queues[user]
            queue.popleft()
            held.discard(item.row.id)
            if queue:
                head = queue[0]
                heapq.heappush(heap, (head.due, head.row.id, user))
            else:
                del queues[user]
        self._loaded -= len(items)

    def _release(self, item: _Item, *, requeue_at: float) -> None:
        user = item.row.user_key
        self._in_flight.discard(user)
        item.due = requeue_at
        self._schedule(user, requeue_at)

    def _request_text(self, sent: list[Any]) -> str | None:
        if not sent or self.connector is None:
            return None
        last = sent[-1]
        request = httpx.Request(
            last.method, last.url, headers=list(last.headers), content=last.body
        )
        with contextlib.suppress(Exception):
            return describe_request(self.connector.http.preview(request))
        return f"{last.method} (the request could not be redacted; not kept)"
