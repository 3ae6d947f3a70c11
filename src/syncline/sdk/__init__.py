"""What connector authors import: the spec, the contract, records, events, errors.

A connector module imports from here, from :mod:`syncline.types` and from
:mod:`syncline.http` — never from the engine or the store.
"""

from syncline.sdk.client import HttpClient
from syncline.sdk.env import Env, Problem, SettingsStore, secret_field_names, secret_values
from syncline.sdk.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    EventsError,
    PermanentError,
    RateLimited,
    RecordsError,
    RetryableError,
    SpecError,
)
from syncline.sdk.events import Event, Events, EventType, EventTypeInfo
from syncline.sdk.json_records import JsonRecords
from syncline.sdk.protocols import (
    Checker,
    EventSender,
    OAuthAccountProvider,
    RecordFetcher,
    RecordsPage,
    RecordUpserter,
)
from syncline.sdk.received import ReceivedEvent
from syncline.sdk.records import IteratorMisuse, Outcome, Record, Records
from syncline.sdk.registry import connector, register
from syncline.sdk.spec import (
    ANY_TARGET,
    EVENTS,
    NETWORK,
    USERS,
    ApplicationSpec,
    AsDestination,
    AsSource,
    Category,
    Constant,
    EndpointGroup,
    Exponential,
    FailureReason,
    HeaderDriven,
    OAuthSpec,
    RateLimit,
    RetryAfter,
    RetryPolicy,
    RetryStrategy,
    SendingMode,
    Terms,
    Timeouts,
)
from syncline.types import Role, TimeLayouts

__all__ = [
    "ANY_TARGET",
    "EVENTS",
    "NETWORK",
    "USERS",
    "ApplicationSpec",
    "AsDestination",
    "AsSource",
    "AuthError",
    "Category",
    "Checker",
    "ConfigError",
    "ConnectorError",
    "Constant",
    "EndpointGroup",
    "Env",
    "Event",
    "EventSender",
    "EventType",
    "EventTypeInfo",
    "Events",
    "EventsError",
    "Exponential",
    "FailureReason",
    "HeaderDriven",
    "HttpClient",
    "IteratorMisuse",
    "JsonRecords",
    "OAuthAccountProvider",
    "OAuthSpec",
    "Outcome",
    "PermanentError",
    "Problem",
    "RateLimit",
    "RateLimited",
    "ReceivedEvent",
    "Record",
    "RecordFetcher",
    "RecordUpserter",
    "Records",
    "RecordsError",
    "RecordsPage",
    "RetryAfter",
    "RetryPolicy",
    "RetryStrategy",
    "RetryableError",
    "Role",
    "SendingMode",
    "SettingsStore",
    "SpecError",
    "Terms",
    "TimeLayouts",
    "Timeouts",
    "connector",
    "register",
    "secret_field_names",
    "secret_values",
]
