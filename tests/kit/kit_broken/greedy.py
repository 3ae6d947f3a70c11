"""A spec whose rate limit is above the vendor's: the sandbox answers 429."""

from __future__ import annotations

from dataclasses import replace

from kit_acme.connector import AcmeBase, acme_spec
from kit_acme.sandbox import AcmeSandbox

from syncline.sdk import EndpointGroup, RateLimit, connector

_SPEC = acme_spec("broken-greedy", "Broken: ignores the vendor's limit")


@connector(
    replace(
        _SPEC,
        endpoint_groups=(EndpointGroup(patterns=("/v1/",), rate_limit=RateLimit(100, burst=100)),),
    )
)
class BrokenGreedy(AcmeBase):
    pass


class BrokenGreedySandbox(AcmeSandbox):
    code = "broken-greedy"
