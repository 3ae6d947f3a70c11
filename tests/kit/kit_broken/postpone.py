"""Bug (d): the first event of a call is postponed when it does not fit."""

from __future__ import annotations

import httpx
from kit_acme.connector import MAX_BODY, MAX_EVENT_NAME, AcmeBase, AcmeSettings, acme_spec
from kit_acme.sandbox import AcmeSandbox

from syncline.sdk import Events, PermanentError, connector


@connector(acme_spec("broken-postpone", "Broken: postpones the first event"))
class BrokenPostpone(AcmeBase):
    def _events_request(
        self, settings: AcmeSettings, events: Events, *, preview: bool
    ) -> httpx.Request | None:
        lines: list[bytes] = []
        size = 0
        for event in events.all():
            if len(event.received.event or "") > MAX_EVENT_NAME:
                events.discard(PermanentError("the event name is longer than 64 characters"))
                continue
            line = self._line(event, preview)
            if size + len(line) + 1 > MAX_BODY:  # the bug: also for the first event
                events.postpone()
                break
            lines.append(line)
            size += len(line) + 1
        return self._build(settings, lines)


class BrokenPostponeSandbox(AcmeSandbox):
    code = "broken-postpone"
