"""Writing a batch through ``upsert()`` and ``Records``, with bounded retries.

:meth:`BatchWriter.write` hands the batch to the destination's ``upsert`` one
call at a time (each call sends at most one request and consumes some records)
until every record has an outcome:

* consumed and not failed → **written**;
* discarded by the connector, failed with a permanent error, or failed with a
  retryable error after ``retry.attempts`` tries → **failed**, with the error's
  fixed message;
* failed with a retryable error (``RetryableError``/``RateLimited``, or an
  index of a ``RecordsError`` holding one) → tried again after a backoff:
  exponential from ``retry.initial`` to ``retry.max`` with full jitter, or the
  ``retry_after`` the app asked for when longer. Before a retry, the
  ``before_retry`` hook may rewrite the records (the export turns a create that
  did reach the app into an update; see :mod:`.exporter`).

A call that fails every consumed record with ``AuthError`` or ``ConfigError``
stops the run (:class:`RunStopped`): every later record would fail the same
way, and the fix is the user's. So does a call that breaks the ``Records``
contract (a connector bug).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from syncline.engine.runs.config import RetrySettings
from syncline.engine.runs.tally import Tally, message_of
from syncline.sdk.errors import AuthError, ConfigError, RetryableError
from syncline.sdk.records import Outcome, Record, Records
from syncline.types import Object

__all__ = ["BatchWriter", "RunStopped", "WriteResult"]


class RunStopped(Exception):
    """The run cannot go on; the message (fixed text) says why and what to do."""


@dataclass(slots=True)
class WriteResult:
    """Records of one batch by outcome (the very objects given to ``write``)."""

    written: list[Record] = field(default_factory=list)
    failed: list[tuple[Record, BaseException]] = field(default_factory=list)
    calls: int = 0


RetryHook = Callable[[list[Record]], Awaitable[list[Record]]]
LabelOf = Callable[[Record], str | None]


def _retryable(error: BaseException) -> bool:
    return isinstance(error, RetryableError) or bool(getattr(error, "retryable", False))


class BatchWriter:
    """Drives one destination's ``upsert`` for one target and schema.

    ``label_of(record)`` gives the ID stored as an error group's sample (the
    source record's ID on export, where a create has no app ID yet).
    """

    def __init__(
        self,
        destination: Any,
        target: str,
        schema: Object,
        retry: RetrySettings,
        tally: Tally,
        *,
        label_of: LabelOf | None = None,
        before_retry: RetryHook | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._upsert = destination.upsert
        self._target = target
        self._schema = schema
        self._retry = retry
        self._tally = tally
        self._label_of = label_of or (lambda record: record.id or None)
        self._before_retry = before_retry
        self._sleep = sleep

    async def write(self, batch: list[Record]) -> WriteResult:
        """Write ``batch``; every record ends written or failed (see the module doc)."""
        result = WriteResult()
        attempts: dict[int, int] = {}
        pending = list(batch)
        round_ = 0
        while pending:
            retry: list[Record] = []
            wait = 0.0
            while pending:
                outcome = await self._call(pending)
                result.calls += 1
                result.written.extend(outcome.succeeded)
                for record, dropped in outcome.discarded:
                    self._fail(result, record, dropped)
                for record, error in outcome.failed:
                    tries = attempts.get(id(record), 1)
                    if _retryable(error) and tries < self._retry.attempts:
                        attempts[id(record)] = tries + 1
                        retry.append(record)
                        hinted = getattr(error, "retry_after", None)
                        if isinstance(hinted, int | float):
                            wait = max(wait, float(hinted))
                    else:
                        self._fail(result, record, error)
                pending = outcome.remaining
            if not retry:
                break
            round_ += 1
            await self._sleep(max(wait, self._backoff(round_)))
            if self._before_retry is not None:
                retried = await self._before_retry(retry)
                # The hook may replace records; carry their attempt counts over.
                for old, new in zip(retry, retried, strict=True):
                    attempts[id(new)] = attempts.get(id(old), 1)
                retry = retried
            pending = retry
        return result

    def _backoff(self, round_: int) -> float:
        cap = min(
            self._retry.maximum.total_seconds(),
            self._retry.initial.total_seconds() * 2 ** (round_ - 1),
        )
        # Full jitter, with a floor of half the cap so a retry never comes at once.
        return float(cap / 2 + random.random() * cap / 2)

    async def _call(self, pending: list[Record]) -> Outcome[Record]:
        """One ``upsert`` call over ``pending``; its outcome per record."""
        records = Records(pending)
        began = time.perf_counter()
        error: BaseException | None = None
        try:
            await self._upsert(self._target, records, self._schema)
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            records.close(None)
            raise
        except Exception as exc:
            error = exc
        outcome = records.close(error)
        self._tally.time("write", time.perf_counter() - began)
        if outcome.violation is not None and not outcome.succeeded and not outcome.failed:
            raise RunStopped(
                f"the destination connector broke the upsert contract: {outcome.violation}"
            )
        if isinstance(error, AuthError | ConfigError):
            raise RunStopped(
                f"the destination refused the request: {message_of(error)}; fix the "
                "connection (re-authorize it or correct its settings) and run again"
            ) from error
        return outcome

    def _fail(self, result: WriteResult, record: Record, error: BaseException) -> None:
        result.failed.append((record, error))
        self._tally.add("failed")
        self._tally.error(message_of(error), self._label_of(record))
