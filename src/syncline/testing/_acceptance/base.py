"""The base of the acceptance checks: running a scenario, the cases, a cheap operation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import pytest

from syncline.sdk.events import Event, Events, EventTypeInfo
from syncline.sdk.json_records import decode
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.received import ReceivedEvent
from syncline.sdk.testing.builders import message, records_from
from syncline.sdk.testing.sandbox import Sandbox
from syncline.testing._acceptance.cases import (
    EventCases,
    UpsertCases,
    chain,
    record,
    upsert_call,
    with_ids,
)
from syncline.testing._acceptance.harness import (
    Harness,
    events_of,
    records_of,
)
from syncline.types import Role

__all__ = ["AcceptanceBase"]


class AcceptanceBase:
    """What every group of checks shares; see :class:`~syncline.testing.acceptance.ConnectorAcceptance`."""

    connector: ClassVar[type]
    sandbox: ClassVar[type[Sandbox]]
    records: ClassVar[int] = 25
    """Size of the sandbox's data set: above one page, so paging and resuming are tested."""
    touched: ClassVar[int] = 3
    """Records changed in the sandbox for the incremental check."""
    rate_limit_requests: ClassVar[int] = 30
    """Operations fired at once in the rate-limit check: more than the vendor's burst."""
    fault_seconds: ClassVar[float] = 0.6
    """How long a 429 storm lasts in the fault checks."""

    def upsert_cases(self, target: str) -> UpsertCases | None:
        """Records for the upsert checks of ``target``; required for destinations of records."""
        return None

    def event_cases(self) -> EventCases | None:
        """Messages for the event checks; required for destinations of events."""
        return None

    # -- running ---------------------------------------------------------------

    def _sandbox(self, *, limits: bool = False) -> Sandbox:
        return self.sandbox(records=self.records, seed=0, limits=limits)

    def run(self, scenario: Callable[[Harness], Awaitable[None]], *, limits: bool = False) -> None:
        """Run ``scenario`` against a fresh sandbox in a new event loop."""

        async def main() -> None:
            async with Harness(self.connector, self._sandbox(limits=limits)) as harness:
                await scenario(harness)

        asyncio.run(main())

    def _require(self, harness: Harness, what: str) -> None:
        if what == "source" and not harness.source_targets():
            pytest.skip("the spec declares no source targets")
        if what == "records" and not harness.record_targets():
            pytest.skip("the spec declares no destination record targets")
        if what == "events" and not harness.sends_events():
            pytest.skip("the spec declares no events destination")
        if what == "check" and not harness.entry.can("check"):
            pytest.skip("the connector has no check()")

    def _cases(self, target: str) -> UpsertCases:
        cases = self.upsert_cases(target)
        if cases is None:
            pytest.fail(
                f"the spec declares {target!r} as a destination: define "
                f"upsert_cases(self, target) returning UpsertCases(creates, updates, invalid) "
                f"for it, with update IDs the sandbox has"
            )
        return cases

    def _events(self) -> EventCases:
        cases = self.event_cases()
        if cases is None:
            pytest.fail(
                "the spec declares an events destination: define event_cases(self) returning "
                "EventCases(send, discard, reject, oversized)"
            )
        return cases

    async def _type_id(self, connector: Any, cases: EventCases) -> str:
        if cases.type_id is not None:
            return cases.type_id
        types = await connector.event_types()
        assert types, "event_types() returned no event type: declare at least one"
        return str(types[0].id)

    async def _make_events(
        self, connector: Any, cases: EventCases, messages: list[dict[str, Any]]
    ) -> list[Event]:
        type_id = await self._type_id(connector, cases)
        schema = await connector.event_type_schema(type_id)
        built: list[Event] = []
        for msg in messages:
            received = ReceivedEvent.from_message(message(**msg))
            values = cases.values
            if callable(values):
                values = values(received)
            elif values is not None:
                values = dict(values)
            built.append(Event("pipeline-1", received, EventTypeInfo(type_id, schema, values)))
        return built

    async def _item_errors(self, h: Harness, connector: Any, client: Any) -> list[tuple[str, str]]:
        """Error texts of items the app rejects (records and events), for the secret check."""
        texts: list[tuple[str, str]] = []
        for target in h.record_targets():
            cases = self.upsert_cases(target)
            if cases is not None and cases.invalid:
                schema = await connector.record_schema(target, Role.DESTINATION)
                items = [record(bad) for bad, _ in cases.invalid]
                drive = await h.drive(
                    client, records_of, items, upsert_call(connector, target, schema)
                )
                texts += [("a record's error", chain(e)) for _, e in drive.failed()]
                texts += [("a discarded record's error", chain(e)) for _, e in drive.discarded()]
        event_cases = self.event_cases() if h.sends_events() else None
        if event_cases is not None:
            messages = with_ids([*event_cases.reject, *event_cases.discard])
            if messages:
                events = await self._make_events(connector, event_cases, messages)
                drive = await h.drive(client, events_of, events, connector.send_events)
                texts += [("an event's error", chain(e)) for _, e in drive.failed()]
                texts += [("a discarded event's error", chain(e)) for _, e in drive.discarded()]
        return texts

    async def _one_operation(
        self, h: Harness, connector: Any = None
    ) -> Callable[[], Awaitable[object]]:
        """A cheap, repeatable operation of the connector's main capability."""
        if connector is None:
            connector, _ = await h.connect()
        if h.source_targets():
            target = h.source_targets()[0]
            schema = await connector.record_schema(target, Role.SOURCE)
            layouts = h.spec.time_layouts

            async def read() -> object:
                page = await connector.records(target, None, None, schema)
                if isinstance(page, RecordsPage) and page.json is not None:
                    # A JSON page is decoded by the engine: a body the fault
                    # damaged fails there, with a typed error, as it does here.
                    decode(page.json, schema, layouts)
                return page

            return read
        if h.sends_events():
            event_cases = self._events()

            async def send() -> None:
                messages = with_ids(event_cases.send[:1])
                await connector.send_events(
                    Events(await self._make_events(connector, event_cases, messages))
                )

            return send
        if h.record_targets():
            target = h.record_targets()[0]
            cases = self._cases(target)
            schema = await connector.record_schema(target, Role.DESTINATION)
            return lambda: connector.upsert(target, records_from(cases.creates[:1]), schema)
        pytest.skip("the spec declares no capability that calls the app")
