"""Matching a request to the most specific endpoint group of a connector's spec.

A pattern is ``[METHOD ][HOST]/PATH`` (see :class:`~syncline.sdk.spec.EndpointGroup`):

* a path ending in ``/`` matches every path under it (``/`` matches all),
  otherwise the path must be equal;
* a host matches case-insensitively; a host without a port matches any port,
  ``host:port`` only that port;
* a method matches only that method (``HEAD`` is not folded into ``GET``).

The most specific matching pattern wins: the longest path, then a pattern with
a host over one without, then one with a method over one without. On a tie
the group declared first wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from syncline.sdk.errors import PermanentError
from syncline.sdk.spec import ApplicationSpec, EndpointGroup, parse_pattern

__all__ = ["EndpointMatcher", "NoEndpointGroup"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class NoEndpointGroup(PermanentError):
    """A request matched no endpoint group of the connector's spec (a connector bug)."""


@dataclass(frozen=True, slots=True)
class _Pattern:
    text: str
    method: str | None
    host: str | None
    port: int | None
    path: str
    prefix: bool
    group: EndpointGroup


class EndpointMatcher:
    """Finds the endpoint group for a request; built once per spec."""

    def __init__(self, spec: ApplicationSpec) -> None:
        self.spec = spec
        patterns: list[_Pattern] = []
        for group in spec.endpoint_groups:
            for text in group.patterns:
                method, host, path = parse_pattern(text)
                port = None
                if host is not None:
                    host = host.lower()
                    if ":" in host:
                        host, _, port_text = host.partition(":")
                        port = int(port_text)
                patterns.append(_Pattern(text, method, host, port, path, path.endswith("/"), group))
        # sorted() is stable: among equally specific patterns the first declared wins.
        self._patterns = sorted(
            patterns,
            key=lambda p: (-len(p.path), p.host is None, p.method is None),
        )

    def match(self, method: str, url: httpx.URL) -> EndpointGroup | None:
        """The group of the most specific pattern matching ``method url``, or None."""
        path = url.path or "/"
        host = url.host.lower()
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
        for p in self._patterns:
            if p.method is not None and p.method != method:
                continue
            if p.host is not None and (p.host != host or (p.port is not None and p.port != port)):
                continue
            if path == p.path or (p.prefix and path.startswith(p.path)):
                return p.group
        return None

    def no_match(self, method: str, described_url: str) -> NoEndpointGroup:
        """The error for a request that matched nothing (``described_url`` already redacted)."""
        code = self.spec.code
        if not self._patterns:
            return NoEndpointGroup(
                f"connector {code!r} declares no endpoint_groups, so it cannot send "
                f"{method} {described_url}; add ApplicationSpec.endpoint_groups, e.g. "
                "(EndpointGroup(patterns=('/',), rate_limit=RateLimit(requests_per_second=10)),)"
            )
        patterns = ", ".join(repr(p.text) for p in self._patterns)
        return NoEndpointGroup(
            f"no endpoint group of connector {code!r} matches {method} {described_url}; "
            f"patterns: {patterns}; add a pattern that covers this URL to the spec"
        )
