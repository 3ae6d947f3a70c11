"""Sandboxes: faithful local fakes of vendor APIs, on a real :class:`FaultServer`.

A sandbox is a subclass of :class:`Sandbox` that fakes one vendor's API from its
public docs: a seeded data set of any size, the vendor's pagination and
filters, its rate limits answered with its own 429 body and headers, its
validation errors and multi-status batch answers. Tests, demos and benchmarks
run connectors against it; ``syncline sandbox CODE`` serves one for local work.

A subclass implements four hooks::

    class AcmeSandbox(Sandbox):
        code = "acme-crm"

        def populate(self, records, rng):          # the seeded data set
            self.collections["users"] = Collection(...)
        def install(self, server):                 # the vendor's routes and limits
            server.route("GET", "/v1/contacts", self.list_contacts)
            self.rate_limit(10, burst=20, prefix="/v1/")
        def settings(self):                        # settings that work here
            return {"api_key": "sandbox-key", "base_url": self.url}
        def bad_settings(self):                    # settings the vendor refuses
            return {"api_key": "revoked-key", "base_url": self.url}

and may override :meth:`Sandbox.rate_limited_reply` (the vendor's own 429) and
:meth:`Sandbox.touch` (when its data is not kept in :attr:`Sandbox.collections`).

Fault modes (:data:`FAULT_MODES`, also ``--faults`` of ``syncline sandbox``)
are switched with :meth:`Sandbox.set_faults`; a fault hits a deterministic
share of the requests under its path prefix (evenly spread: share 0.5 hits
every second request), for ``seconds`` after it was set or until cleared.

Additions to the kit API as first agreed, all with defaults that work for a
sandbox keeping its data in :attr:`Sandbox.collections`: :meth:`Sandbox.ids`
and :meth:`Sandbox.updated_at_of` (what the acceptance suite compares reads
with), :meth:`Sandbox.touch`, :meth:`Sandbox.rate_limit` and
:meth:`Sandbox.window_limit` (vendor limits answered with
:meth:`Sandbox.rate_limited_reply`), and the :class:`Collection` and
pagination helpers.
"""

from __future__ import annotations

import base64
import contextlib
import math
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from syncline.sdk.testing.server import (
    RESET,
    FaultServer,
    RateLimitRule,
    ReceivedRequest,
    Reply,
    Step,
)

__all__ = [
    "FAULT_MODES",
    "Collection",
    "Fault",
    "ItemResult",
    "Sandbox",
    "WindowLimit",
    "cursor_page",
    "multi_status",
    "offset_page",
    "seeded_times",
    "validation_error",
]

T = TypeVar("T")

FAULT_MODES = ("429-storm", "5xx-burst", "slow", "reset", "truncate")
"""The standard fault modes every sandbox supports."""

_DEFAULT_SHARE = {"429-storm": 0.9, "5xx-burst": 0.3, "slow": 1.0, "reset": 0.3, "truncate": 0.3}


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault mode: which requests it hits, how often and for how long.

    * ``mode`` — one of :data:`FAULT_MODES`: ``429-storm`` answers with the
      vendor's 429 (:meth:`Sandbox.rate_limited_reply`); ``5xx-burst`` with
      500, 502 and 503 in turn; ``slow`` holds the status line back ``delay``
      seconds; ``reset`` aborts the connection with a TCP RST; ``truncate``
      sends half of the body although ``Content-Length`` declares all of it.
    * ``share`` — the share of requests hit, in (0, 1] (None: the mode's
      default: 0.9 for a 429 storm, 0.3 for 5xx, resets and truncation, 1 for slow).
    * ``seconds`` — how long the fault lasts after it is set (None: until cleared).
    * ``prefix`` — only requests whose path starts with it are hit.
    """

    mode: str
    share: float | None = None
    seconds: float | None = None
    delay: float = 0.3
    prefix: str = "/"

    def __post_init__(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ValueError(
                f"unknown fault mode {self.mode!r}; use one of {', '.join(FAULT_MODES)}"
            )
        if self.share is not None and not 0 < self.share <= 1:
            raise ValueError(f"fault {self.mode!r}: share {self.share} must be in (0, 1]")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"fault {self.mode!r}: seconds {self.seconds} must be > 0")

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``"5xx-burst"`` or ``"5xx-burst:0.5"`` (mode and share), as ``--faults`` takes them."""
        mode, _, share = text.strip().partition(":")
        if not share:
            return cls(mode)
        try:
            value = float(share)
        except ValueError:
            raise ValueError(
                f"fault {text!r}: {share!r} is not a share; write e.g. {mode}:0.5"
            ) from None
        return cls(mode, share=value)

    @property
    def effective_share(self) -> float:
        return self.share if self.share is not None else _DEFAULT_SHARE[self.mode]


@dataclass(slots=True)
class _ActiveFault:
    fault: Fault
    until: float | None
    seen: int = 0

    def hits(self, request: ReceivedRequest, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return False
        if not request.path.startswith(self.fault.prefix):
            return False
        self.seen += 1
        share = self.fault.effective_share
        return math.floor(self.seen * share) > math.floor((self.seen - 1) * share)


@dataclass(slots=True)
class WindowLimit:
    """At most ``limit`` requests per fixed window of ``seconds`` (e.g. 100 per 10 s)."""

    limit: int
    seconds: float
    prefix: str = "/"
    method: str | None = None
    started: float = 0.0
    used: int = 0
    refused: int = 0

    def take(self, now: float) -> float:
        """Count a request and return 0, or return seconds until the window ends."""
        if now - self.started >= self.seconds:
            self.started = now
            self.used = 0
        if self.used < self.limit:
            self.used += 1
            return 0.0
        self.refused += 1
        return self.seconds - (now - self.started)


@dataclass(slots=True)
class _BucketLimit:
    rule: RateLimitRule
    method: str | None


class Collection:
    """A target's seeded records, keyed by ID, with the app's ``updated_at`` per record.

    ``records`` are the dicts the vendor's API returns; the ID is
    ``str(record[id_field])``; ``updated_at`` gives each record's change time
    (UTC). :meth:`render` writes the time into ``updated_field`` with
    ``time_format``, so the vendor's time format lives in one place.
    """

    def __init__(
        self,
        records: Sequence[tuple[Mapping[str, Any], datetime]] = (),
        *,
        id_field: str = "id",
        updated_field: str = "updated_at",
        time_format: Callable[[datetime], Any] = datetime.isoformat,
    ) -> None:
        self.id_field = id_field
        self.updated_field = updated_field
        self.time_format = time_format
        self._records: dict[str, dict[str, Any]] = {}
        self._updated: dict[str, datetime] = {}
        for record, updated_at in records:
            self.put(record, updated_at)

    def put(self, record: Mapping[str, Any], updated_at: datetime) -> str:
        """Add or replace a record; returns its ID."""
        record_id = str(record[self.id_field])
        self._records[record_id] = dict(record)
        self._updated[record_id] = updated_at.astimezone(UTC)
        return record_id

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._records

    def ids(self) -> list[str]:
        return list(self._records)

    def get(self, record_id: str) -> dict[str, Any] | None:
        """The stored record (a live dict: change it to change the app's data), or None."""
        return self._records.get(record_id)

    def updated_at(self, record_id: str) -> datetime:
        return self._updated[record_id]

    def ordered(self, since: datetime | None = None) -> list[str]:
        """IDs in (updated_at, ID) order, only those changed at or after ``since``."""
        ids = [i for i in self._records if since is None or self._updated[i] >= since]
        return sorted(ids, key=lambda i: (self._updated[i], i))

    def render(self, record_id: str) -> dict[str, Any]:
        """The record as the API returns it, with its change time in ``updated_field``."""
        out = dict(self._records[record_id])
        out[self.updated_field] = self.time_format(self._updated[record_id])
        return out

    def touch(self, record_id: str, changes: Mapping[str, Any], now: datetime) -> None:
        self._records[record_id].update(changes)
        self._updated[record_id] = now.astimezone(UTC)


def cursor_page(items: Sequence[T], cursor: str | None, limit: int) -> tuple[list[T], str | None]:
    """One page of ``items`` after an opaque ``cursor`` (None or ``""``: the first page).

    Returns the page and the next cursor, None after the last page. The cursor
    encodes a position, so it stays valid across server restarts with the same
    data, like most vendors' ``after`` tokens. A malformed cursor raises ``ValueError``.
    """
    start = 0
    if cursor:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii"))
        except Exception:
            raise ValueError(f"cursor {cursor!r} is not one this API returned") from None
    page = list(items[start : start + limit])
    following = start + len(page)
    if following >= len(items):
        return page, None
    return page, base64.urlsafe_b64encode(str(following).encode("ascii")).decode("ascii")


def offset_page(items: Sequence[T], offset: int, limit: int) -> tuple[list[T], int | None]:
    """One page of ``items`` from ``offset``; returns it and the next offset (None: no more)."""
    page = list(items[offset : offset + limit])
    following = offset + len(page)
    return page, (following if following < len(items) else None)


def validation_error(
    field_name: str, message: str, *, status: int = 400, extra: Mapping[str, Any] | None = None
) -> Reply:
    """A vendor-style validation error: ``{"error": "validation", "field": …, "message": …}``."""
    body: dict[str, Any] = {"error": "validation", "field": field_name, "message": message}
    body.update(extra or {})
    return Reply(status, json=body)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one item of a batch: ``error`` None means it was written."""

    index: int
    id: str | None = None
    error: str | None = None
    field: str | None = None
    status: int = 200


def multi_status(results: Sequence[ItemResult], *, key: str = "results") -> Reply:
    """A batch answer: 200 when every item succeeded, else 207 with per-item results.

    The body is ``{key: [{"index", "id", "status", "error", "field"}, …]}``; a
    failed item's ``status`` is 400 unless the result says otherwise. A
    connector that treats the 207 as full success loses the failed items —
    the acceptance suite checks that they are reported.
    """
    items = []
    failed = False
    for result in results:
        status = result.status
        if result.error is not None:
            failed = True
            status = status if status >= 400 else 400
        items.append(
            {
                "index": result.index,
                "id": result.id,
                "status": status,
                "error": result.error,
                "field": result.field,
            }
        )
    return Reply(207 if failed else 200, json={key: items})


class Sandbox(ABC):
    """Base of a faithful local fake of a vendor API, on a real FaultServer (127.0.0.1).

    ``records`` sizes the seeded data set (the same ``seed`` gives the same
    data); ``faults`` are set at once (see :class:`Fault`); ``limits=False``
    turns the vendor's rate limits off (the attribute can be changed while the
    sandbox runs). ``populate`` and ``install`` run in the constructor, so the
    data can be inspected before the server starts; :attr:`url` is known once
    started (``async with sandbox:``, :meth:`start`, or :meth:`run_in_thread`).
    :attr:`rng` (seeded with ``seed``) is for handlers that need randomness
    (new IDs), so a run is repeatable.
    """

    code: ClassVar[str]

    def __init__(
        self,
        *,
        records: int = 100,
        seed: int = 0,
        faults: Sequence[str | Fault] = (),
        limits: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if records < 0:
            raise ValueError(f"records={records}: the data set size must be >= 0")
        self.records = records
        self.seed = seed
        self.limits = limits
        self.rng = random.Random(seed)
        self.server = FaultServer(host, port)
        self.collections: dict[str, Collection] = {}
        self._faults: list[_ActiveFault] = []
        self._buckets: list[_BucketLimit] = []
        self._windows: list[WindowLimit] = []
        self._lock = threading.Lock()
        self.populate(records, random.Random(seed))
        self.server.intercept(self._intercept)
        self.server.transform(self._transform)
        self.install(self.server)
        self.set_faults(*faults)

    # -- subclass hooks ------------------------------------------------------

    def populate(self, records: int, rng: random.Random) -> None:  # noqa: B027 - optional hook
        """Build the seeded data set of ``records`` items per target (default: none).

        Use ``rng`` only, so the same seed gives the same data. Give records
        change times in the past (the acceptance suite tells "now" from the
        app's value) and keep them in :attr:`collections` to get :meth:`ids`,
        :meth:`updated_at_of` and :meth:`touch` for free.
        """

    @abstractmethod
    def install(self, server: FaultServer) -> None:
        """Add the vendor's routes (``server.route``) and rate limits (:meth:`rate_limit`)."""

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Connection settings that work against this sandbox (``base_url`` = :attr:`url`, a valid token)."""

    @abstractmethod
    def bad_settings(self) -> dict[str, Any]:
        """Settings the vendor refuses (a wrong token), pointing at this sandbox."""

    def rate_limited_reply(self, retry_after: float) -> Reply:
        """The vendor's 429 answer when a client must wait ``retry_after`` seconds.

        Override to return the vendor's own body and headers (e.g. HubSpot's
        ``X-HubSpot-RateLimit-*``). The default is a JSON error with ``Retry-After``.
        """
        return Reply(429, json={"error": "rate_limited"}, retry_after=retry_after)

    def ids(self, target: str) -> list[str]:
        """The IDs of every ``target`` record the API returns now."""
        return self._collection(target, "ids").ids()

    def updated_at_of(self, target: str, record_id: str) -> datetime | None:
        """The app's change time of one record, as the API reports it (UTC).

        None when the app keeps no change time for such records: the connector
        must then leave ``updated_at`` None, and its incremental reads must
        still return every changed record (by reading in full).
        """
        return self._collection(target, "updated_at_of").updated_at(record_id)

    def touch(self, target: str, n: int) -> list[str]:
        """Change ``n`` records' data and set their ``updated_at`` to now; return their IDs.

        The default changes records of :attr:`collections` with :meth:`change`
        (by default nothing but the change time) — override :meth:`change` to
        alter data the vendor's way.
        """
        collection = self._collection(target, "touch")
        ids = collection.ordered()[:n]
        now = datetime.now(UTC)
        for record_id in ids:
            record = collection.get(record_id)
            assert record is not None
            collection.touch(record_id, self.change(target, record), now)
        return ids

    def change(self, target: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """The fields :meth:`touch` sets on ``record`` (default: none)."""
        return {}

    # -- limits and faults ---------------------------------------------------

    def rate_limit(
        self,
        requests_per_second: float,
        burst: int,
        *,
        prefix: str = "/",
        method: str | None = None,
    ) -> RateLimitRule:
        """Enforce a token bucket on requests under ``prefix`` (and ``method``), while :attr:`limits`."""
        rule = RateLimitRule(
            requests_per_second, burst, prefix, "seconds", float(burst), time.monotonic()
        )
        self._buckets.append(_BucketLimit(rule, method.upper() if method else None))
        return rule

    def window_limit(
        self, limit: int, seconds: float, *, prefix: str = "/", method: str | None = None
    ) -> WindowLimit:
        """Enforce ``limit`` requests per fixed window of ``seconds``, while :attr:`limits`."""
        window = WindowLimit(
            limit, seconds, prefix, method.upper() if method else None, time.monotonic()
        )
        self._windows.append(window)
        return window

    def set_faults(self, *faults: str | Fault) -> None:
        """Replace the active fault modes (names as in :data:`FAULT_MODES`, or :class:`Fault`)."""
        now = time.monotonic()
        active = []
        for item in faults:
            fault = item if isinstance(item, Fault) else Fault.parse(item)
            until = None if fault.seconds is None else now + fault.seconds
            active.append(_ActiveFault(fault, until))
        with self._lock:
            self._faults = active

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = []

    @property
    def faults(self) -> list[Fault]:
        """The fault modes set (some may have expired)."""
        return [a.fault for a in self._faults]

    def _intercept(self, request: ReceivedRequest) -> Step | None:
        now = time.monotonic()
        with self._lock:
            for active in self._faults:
                mode = active.fault.mode
                if mode in ("slow", "truncate") or not active.hits(request, now):
                    continue
                if mode == "reset":
                    return RESET
                if mode == "5xx-burst":
                    status = (500, 502, 503)[active.seen % 3]
                    return Reply(status, json={"error": "server_error"})
                left = 1.0 if active.until is None else max(0.1, active.until - now)
                return self.rate_limited_reply(min(1.0, left))
        if not self.limits:
            return None
        for bucket in self._buckets:
            if _applies(request, bucket.rule.prefix, bucket.method):
                wait = bucket.rule.take(now)
                if wait > 0:
                    return self.rate_limited_reply(wait)
        for window in self._windows:
            if _applies(request, window.prefix, window.method):
                wait = window.take(now)
                if wait > 0:
                    return self.rate_limited_reply(wait)
        return None

    def _transform(self, request: ReceivedRequest, reply: Reply) -> Reply:
        now = time.monotonic()
        with self._lock:
            for active in self._faults:
                mode = active.fault.mode
                if mode == "slow" and active.hits(request, now):
                    reply = replace(reply, delay=reply.delay + active.fault.delay)
                elif mode == "truncate" and active.hits(request, now):
                    reply = replace(reply, truncate=len(reply.encoded_body()) // 2)
        return reply

    # -- observing -----------------------------------------------------------

    def received(self, path: str | None = None, method: str | None = None) -> list[ReceivedRequest]:
        """Requests received, optionally only those to ``path`` and/or with ``method``."""
        return self.server.requests(path, method)

    # -- lifecycle -----------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT``) once started."""
        return self.server.url

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[Sandbox]:
        """Serve from a daemon thread, for sync code: ``with sandbox.run_in_thread(): ...``."""
        with self.server.run_in_thread():
            yield self

    def _collection(self, target: str, hook: str) -> Collection:
        collection = self.collections.get(target)
        if collection is None:
            raise LookupError(
                f"{type(self).__name__}.{hook}({target!r}): the sandbox keeps no collection "
                f"for target {target!r}; put one in self.collections in populate() or "
                f"override {hook}()"
            )
        return collection


def _applies(request: ReceivedRequest, prefix: str, method: str | None) -> bool:
    return request.path.startswith(prefix) and (method is None or request.method == method)


def seeded_times(
    n: int, rng: random.Random, *, start: datetime | None = None, spread: timedelta | None = None
) -> list[datetime]:
    """``n`` change times in the past (default: within 2025), from ``rng``, to seed records."""
    base = start or datetime(2025, 1, 1, tzinfo=UTC)
    span = (spread or timedelta(days=365)).total_seconds()
    return [base + timedelta(seconds=int(rng.random() * span)) for _ in range(n)]
