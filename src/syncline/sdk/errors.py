"""Typed errors of the connector contract.

The engine never guesses from status codes or message text: a connector (or the
managed HTTP client on its behalf) raises one of these, and the engine decides
what to do from the type alone.

* ``PermanentError`` — the request or item is wrong and sending it again will not
  help (validation, most 4xx). The item fails at once.
* ``RetryableError`` — a transient failure (5xx, network, timeout). The item may be
  tried again later; ``retry_after`` is the server's hint in seconds, if any.
* ``RateLimited`` — a retryable failure caused by the app's rate limit.
* ``AuthError`` — the credentials were refused; retrying will not help until the
  connection is re-authorized.
* ``ConfigError`` — the connection's settings are wrong (bad URL, missing field).

Messages are fixed strings without personal data so that failures aggregate into
metrics: put identifiers of the request in ``request`` (already redacted), never
values of a record or an event in the message.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "AuthError",
    "ConfigError",
    "ConnectorError",
    "EventsError",
    "PermanentError",
    "RateLimited",
    "RecordsError",
    "RetryableError",
    "SpecError",
]


class ConnectorError(Exception):
    """Base of every error a connector or the managed client raises.

    ``status`` is the last HTTP status seen, if the error came from a response;
    ``request`` is a redacted one-line description of the request (method and
    URL with credentials replaced by ``[REDACTED]``).
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request: str | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request = request
        # The response body (truncated), for connectors that map per-item errors
        # from it. Never part of str(self): it may echo personal data.
        self.body = body

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"(HTTP {self.status})")
        if self.request:
            parts.append(f"[{self.request}]")
        return " ".join(parts)


class PermanentError(ConnectorError):
    """The app rejected the request or item; sending it again will not help."""


class RetryableError(ConnectorError):
    """A transient failure; the same request may succeed later.

    ``retry_after`` is the number of seconds the server asked to wait, if it said.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        request: str | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(message, status=status, request=request, body=body)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    """The app's rate limit refused the request; wait ``retry_after`` seconds."""


class AuthError(ConnectorError):
    """The app refused the credentials; the connection must be re-authorized."""


class ConfigError(ConnectorError):
    """The connection's settings are invalid; ``field`` names the setting, if known."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        if self.field:
            return f"setting {self.field!r}: {self.message}"
        return self.message


class SpecError(Exception):
    """A connector's spec or class is inconsistent; raised at registration (import) time."""


class _IndexedErrors(Exception):
    """Per-item failures after a request: ``{index: error}``.

    Indexes count the items the call consumed, in the order they were yielded,
    leaving out discarded and postponed items. Items not named succeeded.
    """

    kind = "item"

    def __init__(self, errors: Mapping[int, BaseException]) -> None:
        if not errors:
            raise ValueError(f"{type(self).__name__} needs at least one failed {self.kind}")
        for index, error in errors.items():
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                raise TypeError(
                    f"{type(self).__name__} keys are {self.kind} indexes (int >= 0), got {index!r}"
                )
            if not isinstance(error, BaseException):
                raise TypeError(
                    f"{type(self).__name__}[{index}] must be an exception, "
                    f"got {type(error).__name__}"
                )
        self.errors: dict[int, BaseException] = dict(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        shown = ", ".join(f"{i}: {e}" for i, e in sorted(self.errors.items())[:5])
        more = "" if len(self.errors) <= 5 else f", … {len(self.errors) - 5} more"
        return f"{len(self.errors)} {self.kind}(s) failed: {{{shown}{more}}}"


class RecordsError(_IndexedErrors):
    """Raised by ``upsert`` when the app rejected some records of the request.

    ``RecordsError({2: PermanentError("invalid email")})`` fails the third
    consumed (non-discarded, non-postponed) record; every other consumed record
    succeeded.
    """

    kind = "record"


class EventsError(_IndexedErrors):
    """Raised by ``send_events`` when the app rejected some events after sending.

    Indexes count consumed events as ``RecordsError`` does. A ``RetryableError``
    value retries only that event; any other error fails it permanently.
    """

    kind = "event"
