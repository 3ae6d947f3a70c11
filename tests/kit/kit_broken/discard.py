"""Bug (a): a discarded event is still serialized into the request."""

from __future__ import annotations

import httpx
from kit_acme.connector import MAX_BODY, MAX_EVENT_NAME, AcmeBase, AcmeSettings, acme_spec
from kit_acme.sandbox import AcmeSandbox

from syncline.sdk import Events, PermanentError, connector


@connector(acme_spec("broken-discard", "Broken: sends discarded events"))
class BrokenDiscard(AcmeBase):
    def _events_request(
        self, settings: AcmeSettings, events: Events, *, preview: bool
    ) -> httpx.Request | None:
        lines: list[bytes] = []
        size = 0
        for event in events.all():
            if len(event.received.event or "") > MAX_EVENT_NAME:
                events.discard(PermanentError("the event name is longer than 64 characters"))
                # the bug: no `continue`, the discarded event is encoded below
            line = self._line(event, preview)
            if lines and size + len(line) + 1 > MAX_BODY:
                events.postpone()
                break
            lines.append(line)
            size += len(line) + 1
        return self._build(settings, lines)


class BrokenDiscardSandbox(AcmeSandbox):
    code = "broken-discard"
