"""Bug (c): ``updated_at`` faked as the time of the read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kit_acme.connector import AcmeBase, acme_spec
from kit_acme.sandbox import AcmeSandbox

from syncline import types as t
from syncline.sdk import Record, connector


@connector(acme_spec("broken-now", "Broken: updated_at is now"))
class BrokenNow(AcmeBase):
    def _record(self, item: dict[str, Any], schema: t.Object) -> Record:
        return Record(
            id=str(item["id"]),
            attributes={name: item.get(name) for name in schema.names()},
            updated_at=datetime.now(UTC),  # the bug
        )


class BrokenNowSandbox(AcmeSandbox):
    code = "broken-now"
