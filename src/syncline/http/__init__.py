"""The managed HTTP client every connector uses (``env.http``).

See ``docs/http.md`` for what a connector declares and what the client guarantees.
"""

from syncline.http.client import Client
from syncline.http.limiter import (
    Limiter,
    Limiters,
    LimiterSnapshot,
    LimiterState,
    LimiterTimeout,
    LocalLimiterState,
    StateFactory,
    shared_limiters,
)
from syncline.http.matching import EndpointMatcher, NoEndpointGroup
from syncline.http.oauth import (
    AuthorizationRequest,
    OAuthSettings,
    TokenKeeper,
    authorization_url,
    exchange_code,
    pkce_pair,
    refresh_tokens,
)
from syncline.http.redact import REDACTED, Redactor, redact
from syncline.http.retry import is_idempotent, is_replayable, parse_retry_after, retry_wait
from syncline.http.stats import GroupStats, SentRequest

__all__ = [
    "REDACTED",
    "AuthorizationRequest",
    "Client",
    "EndpointMatcher",
    "GroupStats",
    "Limiter",
    "LimiterSnapshot",
    "LimiterState",
    "LimiterTimeout",
    "Limiters",
    "LocalLimiterState",
    "NoEndpointGroup",
    "OAuthSettings",
    "Redactor",
    "SentRequest",
    "StateFactory",
    "TokenKeeper",
    "authorization_url",
    "exchange_code",
    "is_idempotent",
    "is_replayable",
    "parse_retry_after",
    "pkce_pair",
    "redact",
    "refresh_tokens",
    "retry_wait",
    "shared_limiters",
]
