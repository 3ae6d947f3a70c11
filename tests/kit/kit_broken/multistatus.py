"""Bug (b): a 207 multi-status answer is treated as full success."""

from __future__ import annotations

import httpx
from kit_acme.connector import AcmeBase, acme_spec
from kit_acme.sandbox import AcmeSandbox

from syncline.sdk import connector


@connector(acme_spec("broken-multistatus", "Broken: 207 is success"))
class BrokenMultiStatus(AcmeBase):
    def _failures(self, response: httpx.Response) -> dict[int, Exception]:
        return {}  # the bug: any 2xx means every record was written


class BrokenMultiStatusSandbox(AcmeSandbox):
    code = "broken-multistatus"
