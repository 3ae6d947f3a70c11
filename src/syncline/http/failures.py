"""Typed errors for failed attempts: which error, with which fixed message.

Messages are fixed strings (plus the retry-policy reason for stopping), so
they aggregate into metrics; the request is named by its redacted description
and the response body travels in ``error.body``, never in the message.
"""

from __future__ import annotations

import httpx

from syncline.sdk.errors import (
    AuthError,
    ConnectorError,
    PermanentError,
    RateLimited,
    RetryableError,
)
from syncline.sdk.spec import FailureReason

__all__ = [
    "ERROR_BODY_LIMIT",
    "network_error",
    "network_text",
    "reason_without_rule",
    "status_error",
]

ERROR_BODY_LIMIT = 64 * 1024
"""Bytes of the response body kept in ``error.body``."""


def status_error(
    response: httpx.Response,
    described: str,
    retry_after: float | None,
    stop: str | None,
    refreshed: bool,
) -> ConnectorError:
    """The error for a response the caller does not accept.

    401/403 → ``AuthError``; 429 → ``RateLimited``; 408/5xx → ``RetryableError``;
    3xx (redirects are not followed) and other 4xx → ``PermanentError``. ``stop``
    says why the client did not retry, ``refreshed`` that a 401 came after an
    OAuth refresh.
    """
    status = response.status_code
    body = response.content[:ERROR_BODY_LIMIT]
    suffix = f"; {stop}" if stop else ""
    if status in (401, 403):
        what = "the app refused the credentials"
        if refreshed:
            what += " even after refreshing the OAuth token"
        return AuthError(
            f"{what}; re-authorize the connection or check its credentials{suffix}",
            status=status,
            request=described,
            body=body,
        )
    if status == 429:
        return RateLimited(
            f"rate limited by the app{suffix}",
            retry_after=retry_after,
            status=status,
            request=described,
            body=body,
        )
    if status == 408 or status >= 500:
        return RetryableError(
            f"the app failed to handle the request{suffix}",
            retry_after=retry_after,
            status=status,
            request=described,
            body=body,
        )
    if 300 <= status < 400:
        return PermanentError(
            "the app answered with a redirect, which the client does not follow; use the final URL",
            status=status,
            request=described,
            body=body,
        )
    return PermanentError(
        f"the app rejected the request{suffix}", status=status, request=described, body=body
    )


def network_error(what: str, described: str, stop: str | None) -> RetryableError:
    """The error for an attempt that got no response (``what`` from :func:`network_text`)."""
    message = f"network error: {what}"
    if stop:
        message += f"; {stop}"
    return RetryableError(message, request=described)


def network_text(failure: BaseException | None, budget: float, total: float) -> str:
    """What went wrong, without the exception's text (it may quote the URL)."""
    if isinstance(failure, TimeoutError):
        if budget < total:
            return f"no response within the {budget:.3g} s left before RetryPolicy.deadline"
        return f"no complete response within Timeouts.total ({total:g} s)"
    return type(failure).__name__


def reason_without_rule(status: int) -> FailureReason:
    """What a status the retry policy has no rule for tells the limiter."""
    if status in (401, 403):
        return FailureReason.UNAUTHORIZED
    if status == 429:
        return FailureReason.RATE_LIMITED
    if status >= 500:
        return FailureReason.SLOWDOWN
    return FailureReason.PERMANENT
