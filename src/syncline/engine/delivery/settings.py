"""How the delivery engine batches, retries and polls; every knob in one value."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["DeliverySettings"]


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """Delivery knobs (the defaults suit production; tests scale times down).

    Batching, per destination:

    * ``batch_size`` — the most events one ``send_events`` call is offered
      (the connector packs what fits in one request); a batch starts as soon
      as this many events are ready,
    * ``max_delay`` — or when the oldest ready event has waited this long,
    * ``max_in_flight`` — ``send_events`` calls running at once.

    Retries of one event, inside its retry window:

    * ``max_attempts`` — attempts before it is dead-lettered (a 429 that said
      how long to wait never dead-letters by this count; the window applies),
    * ``retry_window`` — seconds from its first attempt after which it is
      dead-lettered rather than retried,
    * ``backoff_base`` / ``backoff_cap`` — full-jitter exponential backoff: the
      n-th retry waits a uniform random time in ``[0, min(cap, base·2ⁿ⁻¹)]``,
      or at least what the app's ``Retry-After`` asked.

    Routing and polling:

    * ``route_batch`` — event log rows routed per transaction at most (a
      routing round takes what the log holds up to this; larger rounds when
      behind cost less per event: each dedupe key lands on a random page of
      its index, and a transaction writes each page it touched once),
    * ``load_batch`` / ``max_loaded`` — pending rows a sender reads per query
      and keeps in memory at most,
    * ``poll`` — seconds between looks at the log and the queue when nothing
      woke the engine (other processes' writes: the collector, a replay);
      it bounds the routing delay when the collector does not call
      ``DeliveryService.notify()``,
    * ``sweep`` — seconds between a sender's checks for pending rows that
      became visible below its read position (PostgreSQL commits sequence
      values out of order: a replay committed while routing ran),
    * ``dedupe_window`` — how long a pipeline remembers a ``messageId``,
    * ``prune_log`` — delete routed rows from the event log.
    """

    batch_size: int = 500
    max_delay: float = 0.2
    max_in_flight: int = 4
    max_attempts: int = 12
    retry_window: float = 3 * 3600.0
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    route_batch: int = 10_000
    load_batch: int = 5000
    max_loaded: int = 50_000
    poll: float = 0.1
    sweep: float = 30.0
    dedupe_window: timedelta = timedelta(hours=24)
    prune_log: bool = True

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_in_flight", "max_attempts", "route_batch", "load_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"DeliverySettings.{name} must be at least 1")
        for name in ("max_delay", "retry_window", "backoff_base", "backoff_cap", "poll", "sweep"):
            if getattr(self, name) < 0:
                raise ValueError(f"DeliverySettings.{name} must not be negative")
        if self.max_loaded < self.load_batch:
            raise ValueError("DeliverySettings.max_loaded must be at least load_batch")

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry number ``attempt`` (1 = the first retry)."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** max(0, attempt - 1))
        wait = random.uniform(0.0, ceiling)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait
