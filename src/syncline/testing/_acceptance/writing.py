"""Checks of RecordUpserter and EventSender: writes, per-item errors, discard, postpone, preview."""

from __future__ import annotations

import pytest

from syncline.sdk.events import Events
from syncline.sdk.records import Record
from syncline.testing._acceptance.base import AcceptanceBase
from syncline.testing._acceptance.cases import (
    RecordCase,
    count,
    markers,
    no_misuse,
    one_request_per_call,
    record,
    upsert_call,
    with_ids,
)
from syncline.testing._acceptance.harness import (
    Harness,
    body_text,
    events_of,
    records_of,
)
from syncline.types import Role

__all__ = ["EventChecks", "UpsertChecks"]


class UpsertChecks(AcceptanceBase):
    """Checks of connectors that create and update records."""

    def test_upsert_creates_and_updates(self) -> None:
        """Rule: upsert writes creates and updates, one request per call, until all are written."""

        async def scenario(h: Harness) -> None:
            self._require(h, "records")
            for target in h.record_targets():
                cases = self._cases(target)
                connector, client = await h.connect()
                schema = await connector.record_schema(target, Role.DESTINATION)
                before = count(h.sandbox, target)
                wanted: list[RecordCase] = [*cases.creates, *cases.updates]
                items = [record(c) for c in wanted]
                drive = await h.drive(
                    client, records_of, items, upsert_call(connector, target, schema)
                )
                no_misuse(drive, "upsert")
                assert not drive.failed() and not drive.discarded(), (
                    f"valid records of {target!r} failed: "
                    f"{[(r.id, str(e)) for r, e in drive.failed() + drive.discarded()][:5]}"
                )
                assert len(drive.succeeded()) == len(items)
                one_request_per_call(drive, "upsert")
                after = count(h.sandbox, target)
                if before is not None and after is not None:
                    assert after == before + len(cases.creates), (
                        f"the app has {after - before} new {target!r} records after "
                        f"{len(cases.creates)} creates: a record with an empty id is a create, "
                        "one with an id updates that record"
                    )

        self.run(scenario)

    def test_upsert_reports_per_item_errors(self) -> None:
        """Rule: records the app rejects fail with RecordsError at their own index (207 included)."""

        async def scenario(h: Harness) -> None:
            self._require(h, "records")
            for target in h.record_targets():
                cases = self._cases(target)
                if not cases.invalid:
                    pytest.fail(
                        f"UpsertCases for {target!r} has no invalid records: add records the "
                        "app rejects, with the property at fault"
                    )
                connector, client = await h.connect()
                schema = await connector.record_schema(target, Role.DESTINATION)
                valid: list[RecordCase] = [*cases.creates[:1], *cases.updates[:1]]
                items: list[Record] = []
                invalid_ids: dict[int, str] = {}
                for i, (bad, prop) in enumerate(cases.invalid):
                    items.append(record(bad))
                    invalid_ids[id(items[-1])] = prop
                    if i < len(valid):
                        items.append(record(valid[i]))
                items.extend(record(v) for v in valid[len(cases.invalid) :])
                drive = await h.drive(
                    client, records_of, items, upsert_call(connector, target, schema)
                )
                no_misuse(drive, "upsert")
                assert not drive.violations(), f"upsert broke the contract: {drive.violations()}"
                wrote = [r for r in drive.succeeded() if id(r) in invalid_ids]
                assert not wrote, (
                    f"{len(wrote)} record(s) of {target!r} the app rejected were reported "
                    "written: when the app answers per item (a 207 multi-status, or errors "
                    "inside a 200), raise RecordsError({index: error}) for the rejected ones"
                )
                failed = {id(r): e for r, e in drive.failed() + drive.discarded()}
                for key, prop in invalid_ids.items():
                    text = str(failed[key])
                    assert prop in text, (
                        f"the error for a record rejected because of {prop!r} says {text!r}: "
                        "name the property at fault (no value) so users can fix their mapping"
                    )
                wrongly = [
                    r.id or "(create)" for r, _ in drive.failed() if id(r) not in invalid_ids
                ]
                assert not wrongly, (
                    f"valid records {wrongly} failed along with the invalid ones: RecordsError "
                    "indexes count consumed records in yield order, leaving out discarded ones"
                )

        self.run(scenario)


class EventChecks(AcceptanceBase):
    """Checks of connectors that send events."""

    def test_send_events(self) -> None:
        """Rule: send_events delivers every event, one request per call, postponing what does not fit."""

        async def scenario(h: Harness) -> None:
            self._require(h, "events")
            cases = self._events()
            connector, client = await h.connect()
            messages = with_ids(cases.send * 3)
            events = await self._make_events(connector, cases, messages)
            drive = await h.drive(client, events_of, events, connector.send_events)
            no_misuse(drive, "send_events")
            assert not drive.violations(), f"send_events broke the contract: {drive.violations()}"
            assert len(drive.succeeded()) == len(events), (
                f"{len(drive.succeeded())} of {len(events)} valid events were delivered; "
                f"failed: {[str(e) for _, e in drive.failed()][:3]}"
            )
            one_request_per_call(drive, "send_events")

        self.run(scenario)

    def test_discarded_events_are_not_sent(self) -> None:
        """Rule: an event given to events.discard() never reaches the app."""

        async def scenario(h: Harness) -> None:
            self._require(h, "events")
            cases = self._events()
            if not cases.discard:
                pytest.skip("EventCases.discard is empty: the connector discards nothing")
            connector, client = await h.connect()
            send = with_ids(cases.send[:2])
            discard = with_ids(cases.discard)
            mixed = [m for pair in zip(send, discard, strict=False) for m in pair]
            mixed += discard[len(send) :] + send[len(discard) :]
            events = await self._make_events(connector, cases, mixed)
            drive = await h.drive(client, events_of, events, connector.send_events)
            no_misuse(drive, "send_events")
            discarded = {e.received.message_id for e, _ in drive.discarded()}
            not_discarded = [m["messageId"] for m in discard if m["messageId"] not in discarded]
            assert not not_discarded, (
                f"events {not_discarded} should have been discarded (EventCases.discard) but "
                "were not: call events.discard(error) for events the app would reject"
            )
            bodies = [body_text(r.body, r.headers) + r.path for r in h.sandbox.received()]
            for dropped in discard:
                for marker in markers(dropped, send):
                    leaked = [b for b in bodies if marker in b]
                    assert not leaked, (
                        f"the discarded event {dropped['messageId']} was still sent to the app "
                        f"({marker!r} is in a request body): after events.discard(), skip the "
                        "event — do not serialize it into the request"
                    )

        self.run(scenario)

    def test_rejected_events_raise_events_error(self) -> None:
        """Rule: events the app rejects after sending fail with EventsError at their own index."""

        async def scenario(h: Harness) -> None:
            self._require(h, "events")
            cases = self._events()
            if not cases.reject:
                pytest.skip("EventCases.reject is empty: the app rejects no single event")
            connector, client = await h.connect()
            send = with_ids(cases.send[:2])
            reject = with_ids(cases.reject)
            mixed = [m for pair in zip(reject, send, strict=False) for m in pair]
            mixed += reject[len(send) :] + send[len(reject) :]
            events = await self._make_events(connector, cases, mixed)
            drive = await h.drive(client, events_of, events, connector.send_events)
            no_misuse(drive, "send_events")
            assert not drive.violations(), f"send_events broke the contract: {drive.violations()}"
            rejected = {m["messageId"] for m in reject}
            ok = {e.received.message_id for e in drive.succeeded()}
            wrote = sorted(rejected & ok)
            assert not wrote, (
                f"events {wrote} the app rejected were reported delivered: read the app's "
                "per-event answer and raise EventsError({index: error}) for them"
            )
            failed = {e.received.message_id for e, _ in drive.failed() + drive.discarded()}
            lost = sorted({m["messageId"] for m in send} & failed)
            assert not lost, (
                f"accepted events {lost} were failed along with the rejected ones: EventsError "
                "indexes count consumed events in yield order, leaving out discarded ones"
            )

        self.run(scenario)

    def test_oversized_first_event_is_not_postponed(self) -> None:
        """Rule: never postpone the first event; one that cannot fit is discarded or fails."""

        async def scenario(h: Harness) -> None:
            self._require(h, "events")
            cases = self._events()
            if cases.oversized is None:
                pytest.skip("EventCases.oversized is None: the app has no body size limit")
            connector, client = await h.connect()
            messages = with_ids([cases.oversized, *cases.send[:1]])
            events = await self._make_events(connector, cases, messages)
            drive = await h.drive(client, events_of, events, connector.send_events, max_calls=5)
            if drive.misuse is not None:
                pytest.fail(
                    "send_events postponed the first event of the call (it did not fit one "
                    f"request): {drive.misuse}. The first event must be consumed or discarded: "
                    "discard an event that alone exceeds the app's limits"
                )
            first = drive.reports[0]
            assert first.consumed or first.discarded, "the first call consumed nothing"

        self.run(scenario)

    def test_preview_equals_send(self) -> None:
        """Rule: the preview is the request send_events sends, with credentials redacted."""

        async def scenario(h: Harness) -> None:
            self._require(h, "events")
            cases = self._events()
            connector, client = await h.connect()
            messages = with_ids(cases.send[:2])
            preview = await connector.preview_send_events(
                Events(await self._make_events(connector, cases, messages))
            )
            assert preview is not None, "preview_send_events returned None for sendable events"
            with client.capture() as sent:
                await connector.send_events(
                    Events(await self._make_events(connector, cases, messages))
                )
            assert sent, "send_events sent no request for sendable events"
            import httpx

            wire = sent[0]
            expected = client.preview(
                httpx.Request(wire.method, wire.url, headers=list(wire.headers), content=wire.body)
            )
            pipeline = "pipeline-1"
            want = expected.content.replace(pipeline.encode(), b"[PIPELINE]")
            assert (preview.method, str(preview.url).replace(pipeline, "[PIPELINE]")) == (
                expected.method,
                str(expected.url).replace(pipeline, "[PIPELINE]"),
            ), "the preview's method or URL differs from what send_events sent"
            assert preview.content == want, (
                "the preview's body differs from what send_events sent: build both with one "
                "function and pass the built request to env.http.preview()"
            )
            shown = (
                str(preview.url)
                + str(list(preview.headers.items()))
                + preview.content.decode("utf-8", "replace")
            )
            for name, secret in h.secrets().items():
                assert secret not in shown, (
                    f"the preview shows the value of setting {name!r}: return "
                    "env.http.preview(request), which replaces credentials with [REDACTED]"
                )

        self.run(scenario)
