"""The connector spec: plain data that says what a connector is and can do.

An :class:`ApplicationSpec` is checked twice: its own fields when it is built
(a bad code, a non-positive rate, an empty pattern list fail at once) and against
the connector class at registration (see :mod:`syncline.sdk.registry`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, TypeAlias

from pydantic import BaseModel

from syncline.sdk.errors import SpecError
from syncline.types import TimeLayouts

__all__ = [
    "ANY_TARGET",
    "EVENTS",
    "NETWORK",
    "USERS",
    "ApplicationSpec",
    "AsDestination",
    "AsSource",
    "Category",
    "Constant",
    "EndpointGroup",
    "Exponential",
    "FailureReason",
    "HeaderDriven",
    "OAuthSpec",
    "RateLimit",
    "RetryAfter",
    "RetryPolicy",
    "RetryStrategy",
    "SendingMode",
    "Terms",
    "Timeouts",
]

USERS = "users"
"""The target of people with the app's user ID; export matching and identity rely on it."""
EVENTS = "events"
"""The target of received events delivered to a destination."""
ANY_TARGET = "*"
"""Declared by databases and files: any target; the pipeline's options say where (a table, a file)."""

NETWORK: Literal["network"] = "network"
"""Retry-policy key for transport failures: connection errors, resets, timeouts."""

_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TARGET = re.compile(r"^[a-z][a-z0-9_]*$")
_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


class Category(StrEnum):
    SAAS = "saas"
    DATABASE = "database"
    FILE = "file"
    WEBHOOK = "webhook"
    TESTING = "testing"


class SendingMode(StrEnum):
    """Where events are sent from. Syncline sends from its server (``SERVER``)."""

    NONE = "none"
    SERVER = "server"


class FailureReason(StrEnum):
    """What a failed attempt tells the rate limiter.

    * ``RATE_LIMITED`` pauses the endpoint group's whole bucket for the wait.
    * ``SLOWDOWN`` and ``NET_FAILURE`` raise the group's error rate, which scales
      its request rate down (never below 20 % of the configured rate).
    * ``PERMANENT`` and ``UNAUTHORIZED`` leave the limiter alone.
    """

    RATE_LIMITED = "rate_limited"
    SLOWDOWN = "slowdown"
    NET_FAILURE = "net_failure"
    PERMANENT = "permanent"
    UNAUTHORIZED = "unauthorized"


@dataclass(frozen=True, slots=True)
class Exponential:
    """Wait a random time in ``[0, min(cap, base * 2**retry))`` (full jitter)."""

    base: float = 0.2
    cap: float = 30.0
    reason: FailureReason = FailureReason.NET_FAILURE

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap <= 0:
            raise SpecError(f"Exponential(base={self.base}, cap={self.cap}): both must be > 0")


@dataclass(frozen=True, slots=True)
class Constant:
    """Wait ``wait`` seconds before every retry."""

    wait: float
    reason: FailureReason = FailureReason.NET_FAILURE

    def __post_init__(self) -> None:
        if self.wait < 0:
            raise SpecError(f"Constant(wait={self.wait}): the wait must be >= 0 seconds")


@dataclass(frozen=True, slots=True)
class HeaderDriven:
    """Wait what a response header says.

    ``parse`` turns the header's value into seconds to wait; ``None`` reads a
    number of seconds (decimals allowed) or an HTTP date. When the header is
    missing or unparsable, ``fallback`` decides the wait.
    """

    header: str
    parse: Callable[[str], float] | None = None
    reason: FailureReason = FailureReason.RATE_LIMITED
    fallback: Exponential = field(
        default_factory=lambda: Exponential(base=1.0, cap=30.0, reason=FailureReason.SLOWDOWN)
    )


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """Wait what ``Retry-After`` says (seconds or HTTP date); else ``fallback``."""

    reason: FailureReason = FailureReason.RATE_LIMITED
    fallback: Exponential = field(
        default_factory=lambda: Exponential(base=1.0, cap=30.0, reason=FailureReason.SLOWDOWN)
    )


RetryStrategy: TypeAlias = Exponential | Constant | HeaderDriven | RetryAfter
RuleKey: TypeAlias = int | Literal["network"]


def _rule_keys(key: int | str) -> list[RuleKey]:
    if isinstance(key, bool):
        raise SpecError(f"retry rule key {key!r}: use an HTTP status code or 'network'")
    if isinstance(key, int):
        keys: list[RuleKey] = [key]
    else:
        keys = []
        for part in key.split():
            if part == NETWORK:
                keys.append(NETWORK)
            elif part.isdigit():
                keys.append(int(part))
            else:
                raise SpecError(
                    f"retry rule key {key!r}: {part!r} is neither an HTTP status code nor "
                    "'network'; write e.g. 429, '500 503' or 'network'"
                )
    for k in keys:
        if k != NETWORK and not (400 <= int(k) <= 599):
            raise SpecError(f"retry rule key {key!r}: status {k} is not an error status (400-599)")
    return keys


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Which failures are retried, how long to wait, and when to give up.

    ``rules`` maps a status code (``429``), several (``"500 503"``) or
    ``"network"`` to a strategy. A status without a rule is not retried. Every
    retry counts toward ``max_attempts`` (attempts in all, the first included)
    and the whole request, waits included, must finish within ``deadline``
    seconds. Whatever the policy says, only idempotent requests are replayed.
    """

    rules: Mapping[int | str, RetryStrategy] = field(default_factory=dict)
    max_attempts: int = 6
    deadline: float = 120.0

    def __post_init__(self) -> None:
        normalized: dict[RuleKey, RetryStrategy] = {}
        for key, strategy in self.rules.items():
            if not isinstance(strategy, Exponential | Constant | HeaderDriven | RetryAfter):
                raise SpecError(
                    f"retry rule {key!r}: {strategy!r} is not a strategy; use RetryAfter(), "
                    "Exponential(), Constant(wait) or HeaderDriven(header)"
                )
            for k in _rule_keys(key):
                normalized[k] = strategy
        object.__setattr__(self, "rules", normalized)
        if self.max_attempts < 1:
            raise SpecError(f"RetryPolicy.max_attempts={self.max_attempts}: must be >= 1")
        if self.deadline <= 0:
            raise SpecError(f"RetryPolicy.deadline={self.deadline}: must be > 0 seconds")

    @classmethod
    def default(cls) -> RetryPolicy:
        """429 by Retry-After; 408, 500, 502, 503, 504 and network errors by backoff."""
        backoff = Exponential(base=0.2, cap=30.0, reason=FailureReason.NET_FAILURE)
        return cls(
            rules={
                429: RetryAfter(),
                "408 500 502 503 504": backoff,
                NETWORK: Exponential(base=0.1, cap=10.0, reason=FailureReason.NET_FAILURE),
            }
        )

    def extend(
        self,
        rules: Mapping[int | str, RetryStrategy] | None = None,
        *,
        max_attempts: int | None = None,
        deadline: float | None = None,
    ) -> RetryPolicy:
        """This policy with ``rules`` added (replacing rules for the same keys)."""
        merged: dict[int | str, RetryStrategy] = dict(self.rules)
        for key, strategy in (rules or {}).items():
            for k in _rule_keys(key):
                merged[k] = strategy
        return RetryPolicy(
            rules=merged,
            max_attempts=self.max_attempts if max_attempts is None else max_attempts,
            deadline=self.deadline if deadline is None else deadline,
        )

    def strategy_for(self, key: RuleKey) -> RetryStrategy | None:
        """The strategy for a status code or ``"network"``, or None (not retried)."""
        rules: Mapping[RuleKey, RetryStrategy] = self.rules  # type: ignore[assignment]
        return rules.get(key)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait: to connect, between bytes of a response, and for a whole request.

    ``total`` bounds one attempt from the first byte sent to the last byte read;
    the retry policy's ``deadline`` bounds all attempts together.
    """

    connect: float = 10.0
    read: float = 30.0
    total: float = 60.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            if getattr(self, name) <= 0:
                raise SpecError(f"Timeouts.{name}={getattr(self, name)}: must be > 0 seconds")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``requests_per_second`` sustained, ``burst`` at once.

    ``max_concurrent`` caps requests in flight (None: no cap).
    """

    requests_per_second: float
    burst: int = 1
    max_concurrent: int | None = None

    def __post_init__(self) -> None:
        if not self.requests_per_second > 0:
            raise SpecError(
                f"RateLimit.requests_per_second={self.requests_per_second}: must be > 0; "
                "use the app's published limit (e.g. 100 per 10 s is 10.0)"
            )
        if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 1:
            raise SpecError(f"RateLimit.burst={self.burst!r}: must be an int >= 1")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise SpecError(
                f"RateLimit.max_concurrent={self.max_concurrent}: must be >= 1, or None for no cap"
            )


@dataclass(frozen=True, slots=True)
class EndpointGroup:
    """A family of the app's endpoints sharing one rate limit and retry policy.

    A pattern is ``[METHOD ][HOST]/PATH``: an optional method, an optional host,
    and a path. A path ending in ``/`` matches every path under it; otherwise it
    must match exactly. A request goes to the group of its most specific
    matching pattern (longest path, then host given, then method given).
    """

    patterns: tuple[str, ...]
    rate_limit: RateLimit
    retry: RetryPolicy = field(default_factory=RetryPolicy.default)
    requires_oauth: bool = False
    timeouts: Timeouts = field(default_factory=Timeouts)
    name: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.patterns, str):
            raise SpecError(
                f"EndpointGroup patterns={self.patterns!r}: give a tuple of patterns, "
                f"e.g. ({self.patterns!r},)"
            )
        object.__setattr__(self, "patterns", tuple(self.patterns))
        if not self.patterns:
            raise SpecError("EndpointGroup: patterns is empty; use ('/',) to match every request")
        for pattern in self.patterns:
            parse_pattern(pattern)
        if not self.name:
            object.__setattr__(self, "name", self.patterns[0])


def parse_pattern(pattern: str) -> tuple[str | None, str | None, str]:
    """Split ``[METHOD ][HOST]/PATH`` into (method, host, path); raise SpecError if malformed."""
    method: str | None = None
    rest = pattern.strip()
    if " " in rest:
        method, _, rest = rest.partition(" ")
        rest = rest.strip()
        if method not in _METHODS:
            raise SpecError(
                f"endpoint pattern {pattern!r}: {method!r} is not an HTTP method "
                f"({', '.join(sorted(_METHODS))})"
            )
    slash = rest.find("/")
    if slash < 0:
        raise SpecError(f"endpoint pattern {pattern!r}: the path must start with '/'")
    host = rest[:slash] or None
    path = rest[slash:]
    if host is not None and not re.fullmatch(r"[A-Za-z0-9.-]+(?::\d+)?", host):
        raise SpecError(f"endpoint pattern {pattern!r}: {host!r} is not a host name")
    return method, host, path


@dataclass(frozen=True, slots=True)
class OAuthSpec:
    """OAuth 2 authorization code flow (with PKCE unless ``pkce`` is False)."""

    auth_url: str
    token_url: str
    source_scopes: tuple[str, ...] = ()
    destination_scopes: tuple[str, ...] = ()
    pkce: bool = True
    expires_in: int | None = None
    """Seconds an access token lives, when the app does not say (overrides nothing it says)."""

    def __post_init__(self) -> None:
        for name in ("auth_url", "token_url"):
            value = getattr(self, name)
            if not value.startswith(("https://", "http://")):
                raise SpecError(f"OAuthSpec.{name}={value!r}: must be an http(s) URL")


@dataclass(frozen=True, slots=True)
class Terms:
    """The app's own words for a user, users, and the user ID."""

    user: str = "User"
    users: str = "Users"
    user_id: str = "User ID"


@dataclass(frozen=True, slots=True)
class AsSource:
    """The connector reads ``targets`` (``users`` and/or other record collections)."""

    targets: tuple[str, ...]
    has_settings: bool = True
    summary: str = ""


@dataclass(frozen=True, slots=True)
class AsDestination:
    """The connector writes ``targets`` (``users``, other records, ``events``)."""

    targets: tuple[str, ...]
    has_settings: bool = True
    sending_mode: SendingMode = SendingMode.SERVER
    summary: str = ""


@dataclass(frozen=True, slots=True)
class ApplicationSpec:
    """What a connector is and can do. Plain data; checked when built.

    ``pipeline_options`` is a pydantic model of what each pipeline says about
    this connector's side (a database's table and key column, a file's path),
    handed to the instance as ``env.options``.

    ``secret_fields`` names request body and query fields that carry credentials
    (``client_secret``, ``api_key`` …); they are redacted in previews, logs and
    errors, as are the Authorization header and every value of a secret setting.
    """

    code: str
    label: str
    categories: tuple[Category, ...] = (Category.SAAS,)
    as_source: AsSource | None = None
    as_destination: AsDestination | None = None
    terms: Terms = field(default_factory=Terms)
    oauth: OAuthSpec | None = None
    endpoint_groups: tuple[EndpointGroup, ...] = ()
    time_layouts: TimeLayouts = field(default_factory=TimeLayouts)
    settings: type[BaseModel] | None = None
    pipeline_options: type[BaseModel] | None = None
    secret_fields: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CODE.match(self.code):
            raise SpecError(
                f"connector code {self.code!r} is invalid: use kebab-case letters a-z, digits "
                "and single hyphens, e.g. 'hubspot' or 'google-analytics'"
            )
        where = f"connector {self.code!r}"
        if not self.label:
            raise SpecError(f"{where}: label is empty; give the app's display name")
        if not self.categories:
            raise SpecError(f"{where}: categories is empty; give at least one Category")
        if self.as_source is None and self.as_destination is None:
            raise SpecError(f"{where}: neither as_source nor as_destination is set")
        if self.as_source is not None:
            self._check_targets(where + " as_source", self.as_source.targets)
            if EVENTS in self.as_source.targets:
                raise SpecError(
                    f"{where} as_source: 'events' cannot be read from an app; events enter "
                    "through the collector"
                )
        if self.as_destination is not None:
            self._check_targets(where + " as_destination", self.as_destination.targets)
            sends_events = EVENTS in self.as_destination.targets
            if sends_events and self.as_destination.sending_mode is SendingMode.NONE:
                raise SpecError(
                    f"{where} as_destination: targets include 'events' but sending_mode is "
                    "NONE; use SendingMode.SERVER"
                )
        for name in ("settings", "pipeline_options"):
            model = getattr(self, name)
            if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise SpecError(f"{where}: {name} must be a pydantic BaseModel subclass")
        for group in self.endpoint_groups:
            if not isinstance(group, EndpointGroup):
                raise SpecError(f"{where}: endpoint_groups holds {group!r}, not an EndpointGroup")
            if group.requires_oauth and self.oauth is None:
                raise SpecError(
                    f"{where}: endpoint group {group.name!r} requires OAuth but the spec has "
                    "no oauth; set oauth=OAuthSpec(...) or requires_oauth=False"
                )
        if self.oauth is not None and not any(g.requires_oauth for g in self.endpoint_groups):
            raise SpecError(
                f"{where}: oauth is set but no endpoint group has requires_oauth=True; "
                "mark the groups that need the access token"
            )

    @staticmethod
    def _check_targets(where: str, targets: tuple[str, ...]) -> None:
        if isinstance(targets, str) or not targets:
            raise SpecError(f"{where}: targets must be a non-empty tuple, e.g. ('users',)")
        for target in targets:
            if target == ANY_TARGET:
                continue
            if not isinstance(target, str) or not _TARGET.match(target):
                raise SpecError(
                    f"{where}: target {target!r} is invalid; use lowercase words like "
                    "'users', 'companies', 'events'"
                )
        if len(set(targets)) != len(targets):
            raise SpecError(f"{where}: targets {targets!r} repeat a target")

    @property
    def has_settings(self) -> bool:
        return any(
            role is not None and role.has_settings for role in (self.as_source, self.as_destination)
        )

    def source_targets(self) -> tuple[str, ...]:
        return self.as_source.targets if self.as_source else ()

    def destination_targets(self) -> tuple[str, ...]:
        return self.as_destination.targets if self.as_destination else ()
