"""The parts the acceptance checks share: a connector wired to a running sandbox.

:class:`Harness` starts a sandbox, builds connector instances on real managed
HTTP clients (each instance its own client, as after a restart), reads whole
targets, drives ``upsert``/``send_events`` until their items are all handled,
and collects log records so the secret check can read them.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from syncline.http import Client
from syncline.sdk.env import Env
from syncline.sdk.errors import RetryableError
from syncline.sdk.events import Event, Events
from syncline.sdk.json_records import decode
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.records import ConsumableItems, Record, Records
from syncline.sdk.registry import Registered, registered
from syncline.sdk.spec import ANY_TARGET, EVENTS, ApplicationSpec
from syncline.sdk.testing.builders import CallReport, report_of
from syncline.sdk.testing.sandbox import Sandbox
from syncline.sdk.testing.settings import MemorySettings
from syncline.types import Object, Role

__all__ = ["Drive", "Harness", "LogCapture", "body_text", "find_registered"]

T = TypeVar("T")


def find_registered(cls: type) -> Registered:
    """The registry entry of connector class ``cls`` (it registers when its module is imported)."""
    for entry in registered():
        if entry.cls is cls:
            return entry
    raise AssertionError(
        f"{cls.__module__}.{cls.__qualname__} is not a registered connector: decorate it "
        "with @connector(SPEC) (or call register(SPEC, cls)) in its module"
    )


def body_text(body: bytes, headers: Sequence[tuple[str, str]] = ()) -> str:
    """A request body as text, decompressed when it was gzip-encoded."""
    if any(k.lower() == "content-encoding" and "gzip" in v.lower() for k, v in headers):
        with contextlib.suppress(OSError):
            body = gzip.decompress(body)
    return body.decode("utf-8", "replace")


class LogCapture(logging.Handler):
    """Keeps every log record (formatted) emitted while installed on the root logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._levels: list[tuple[logging.Logger, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string is still a record to scan
            text = f"{record.msg!r} {record.args!r}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" | {record.exc_info[1]!r}"
        self.lines.append(f"{record.name}: {text}")

    def __enter__(self) -> LogCapture:
        root = logging.getLogger()
        self._levels = [(root, root.level)]
        root.setLevel(logging.DEBUG)
        root.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        for logger, level in self._levels:
            logger.setLevel(level)


@dataclass
class Drive:
    """What driving ``upsert``/``send_events`` to the end did, call by call."""

    reports: list[CallReport[Any]] = field(default_factory=list)
    requests_per_call: list[int] = field(default_factory=list)
    misuse: BaseException | None = None
    retried: list[tuple[Any, BaseException]] = field(default_factory=list)

    def succeeded(self) -> list[Any]:
        return [item for r in self.reports for item in r.succeeded]

    def failed(self) -> list[tuple[Any, BaseException]]:
        """Items that failed for good (a retryable failure handed again is not one)."""
        again = {id(item) for item, _ in self.retried}
        final = [pair for r in self.reports for pair in r.failed]
        # An item retried and then failed for good appears once, with its last error.
        last: dict[int, tuple[Any, BaseException]] = {}
        for item, error in final:
            last[id(item)] = (item, error)
        return [
            pair
            for key, pair in last.items()
            if key not in again or not isinstance(pair[1], RetryableError)
        ]

    def discarded(self) -> list[tuple[Any, Exception]]:
        return [pair for r in self.reports for pair in r.discarded]

    def violations(self) -> list[str]:
        return [r.violation for r in self.reports if r.violation]


RETRIES = 3
"""How often the suite hands an item failed with a RetryableError again."""


class Harness:
    """A running sandbox and a way to build connector instances against it."""

    def __init__(self, connector: type, sandbox: Sandbox) -> None:
        self.entry = find_registered(connector)
        self.spec: ApplicationSpec = self.entry.spec
        self.cls = connector
        self.sandbox = sandbox
        self._clients: list[Any] = []

    async def __aenter__(self) -> Harness:
        await self.sandbox.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in self._clients:
            await client.aclose()
        await self.sandbox.stop()

    def settings_model(self, values: dict[str, Any]) -> BaseModel | None:
        model = self.spec.settings
        if model is None:
            return None
        return model.model_validate(values)

    async def connect(self, *, bad: bool = False) -> tuple[Any, Any]:
        """A new connector instance on its own managed client; returns ``(connector, client)``."""
        # The suite runs a connector as the engine does, on the managed client.
        values = self.sandbox.bad_settings() if bad else self.sandbox.settings()
        model = self.settings_model(values)
        store = MemorySettings(model) if model is not None else None
        client = Client(self.spec, store)
        await client.load_secrets()
        self._clients.append(client)
        env: Env[Any] = Env(settings=store, http=client, connection="acceptance")  # type: ignore[arg-type]
        return self.cls(env), client

    def secrets(self) -> dict[str, str]:
        """Secret setting values of the good and the bad settings, by ``field (which)``."""
        from syncline.sdk.env import secret_field_names

        model = self.spec.settings
        if model is None:
            return {}
        found: dict[str, str] = {}
        for which, values in (
            ("", self.sandbox.settings()),
            (" (bad)", self.sandbox.bad_settings()),
        ):
            settings = model.model_validate(values)
            for name in sorted(secret_field_names(model)):
                value: Any = settings
                for part in name.split("."):
                    value = getattr(value, part, None)
                if value is not None and hasattr(value, "get_secret_value"):
                    secret = value.get_secret_value()
                    if isinstance(secret, bytes):
                        secret = secret.decode("utf-8", "replace")
                    if secret:
                        found[f"{name}{which}"] = secret
        return found

    def source_targets(self) -> list[str]:
        return [t for t in self.spec.source_targets() if t != ANY_TARGET]

    def record_targets(self) -> list[str]:
        return [t for t in self.spec.destination_targets() if t not in (EVENTS, ANY_TARGET)]

    def sends_events(self) -> bool:
        return EVENTS in self.spec.destination_targets()

    async def read_all(
        self,
        connector: Any,
        target: str,
        *,
        updated_at: datetime | None = None,
        cursor: str | None = None,
        max_pages: int = 10_000,
        pages: int | None = None,
    ) -> tuple[list[Record], list[RecordsPage]]:
        """Read ``target`` to ``done`` (or ``pages`` pages); returns the records and the pages.

        A ``RecordsPage.from_json`` page is decoded as the engine decodes it
        (against the schema, natively when it can) and kept as the page of
        records that gives.
        """
        schema: Object = await connector.record_schema(target, Role.SOURCE)
        records: list[Record] = []
        seen: list[RecordsPage] = []
        for _ in range(max_pages):
            page = await connector.records(target, updated_at, cursor, schema)
            if not isinstance(page, RecordsPage):
                raise AssertionError(
                    f"records({target!r}) returned {type(page).__name__}, not a RecordsPage: "
                    "return RecordsPage(records, cursor, done)"
                )
            if page.json is not None:
                decoded = decode(page.json, schema, self.spec.time_layouts)
                page = RecordsPage(decoded.records, decoded.cursor, decoded.done)
            seen.append(page)
            records.extend(page.records)
            if page.done or (pages is not None and len(seen) >= pages):
                return records, seen
            cursor = page.cursor
        raise AssertionError(
            f"records({target!r}) did not return done=True within {max_pages} pages for "
            f"{self.sandbox.records} records: set done=True on the last page"
        )

    async def drive(
        self,
        client: Any,
        make: Callable[[list[T]], ConsumableItems[T]],
        items: list[T],
        call: Callable[[ConsumableItems[T]], Awaitable[object]],
        *,
        max_calls: int = 1000,
    ) -> Drive:
        """Call ``call`` with the remaining items until none remain (as the engine does).

        As the engine does, an item failed with a ``RetryableError`` is handed
        again (ahead of the items not yet sent), up to ``RETRIES`` times.
        """
        drive = Drive()
        pending = list(items)
        attempts: dict[int, int] = {}
        for _ in range(max_calls):
            if not pending:
                return drive
            batch = make(pending)
            with client.capture() as sent:
                try:
                    report = await report_of(call(batch), batch)
                except Exception as misuse:  # IteratorMisuse, re-raised by report_of
                    drive.misuse = misuse
                    return drive
            drive.reports.append(report)
            drive.requests_per_call.append(sum(1 for s in sent if s.attempt == 1))
            if report.violation:
                return drive
            again = []
            for item, error in report.failed:
                if isinstance(error, RetryableError) and attempts.get(id(item), 0) < RETRIES:
                    attempts[id(item)] = attempts.get(id(item), 0) + 1
                    again.append(item)
                    drive.retried.append((item, error))
            pending = again + list(report.remaining)
        raise AssertionError(f"items were still pending after {max_calls} calls")


def records_of(items: list[Record]) -> Records:
    return Records(items)


def events_of(items: list[Event]) -> Events:
    return Events(items)
