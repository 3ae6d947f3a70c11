"""GA4 Measurement Protocol rules, checked before sending (pure functions, no I/O).

``/mp/collect`` answers 2xx to every well-formed request and silently drops
what breaks a rule, so the connector checks each event itself and discards a
breaking event with a fixed message naming the field and the rule (no value of
the event, so failures aggregate and no personal data leaks). From GA4's
public Measurement Protocol and collection-limit docs:

* at most 25 events per request, and a request body smaller than 130 kB;
* an event name: at most 40 characters, letters, digits and ``_``, starting
  with a letter; not a reserved name, not starting with ``google_``, ``ga_``
  or ``firebase_``;
* at most 25 parameters per event; a parameter name follows the event name
  rule (reserved prefixes too); a parameter value is a string of at most 100
  characters (``page_location`` 1,000, ``page_referrer`` 420, ``page_title``
  300) or a number;
* ``items`` (ecommerce) is a list of at most 200 objects whose keys follow
  the parameter name rule and whose values follow the parameter value rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MAX_BODY",
    "MAX_EVENTS",
    "MAX_ITEMS",
    "MAX_NAME",
    "MAX_PARAMS",
    "MAX_VALUE",
    "RESERVED_EVENTS",
    "RESERVED_PREFIXES",
    "event_problem",
    "params_problem",
]

MAX_EVENTS = 25
MAX_BODY = 130_000
MAX_NAME = 40
MAX_VALUE = 100
MAX_PARAMS = 25
MAX_ITEMS = 200

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
RESERVED_PREFIXES = ("google_", "ga_", "firebase_")
RESERVED_EVENTS = frozenset(
    {
        "ad_activeview",
        "ad_click",
        "ad_exposure",
        "ad_impression",
        "ad_query",
        "ad_reward",
        "adunit_exposure",
        "app_background",
        "app_clear_data",
        "app_exception",
        "app_install",
        "app_remove",
        "app_store_refund",
        "app_update",
        "app_upgrade",
        "dynamic_link_app_open",
        "dynamic_link_app_update",
        "dynamic_link_first_open",
        "error",
        "first_open",
        "first_visit",
        "in_app_purchase",
        "notification_dismiss",
        "notification_foreground",
        "notification_open",
        "notification_receive",
        "os_update",
        "session_start",
        "session_start_with_rollout",
        "user_engagement",
    }
)
_RESERVED_PARAMS = frozenset({"firebase_conversion"})
# The parameters GA4 lets be longer than MAX_VALUE.
_LONG_VALUES = {"page_location": 1000, "page_referrer": 420, "page_title": 300}

_NAME_RULE = f"at most {MAX_NAME} characters, only letters, digits and '_', starting with a letter"


def _name_problem(name: str, field: str, what: str) -> str | None:
    if len(name) > MAX_NAME or not _NAME.fullmatch(name):
        return f"GA4 ignores the event: {what} ({field}) must have {_NAME_RULE}"
    if name.startswith(RESERVED_PREFIXES):
        return (
            f"GA4 ignores the event: {what} ({field}) starts with a reserved prefix "
            "(google_, ga_, firebase_); rename it"
        )
    return None


def event_problem(name: str | None) -> str | None:
    """The fixed message for an event name GA4 would drop, or None when it is valid."""
    if not name:
        return "the event has no name (event): GA4 needs one; map or filter nameless events"
    problem = _name_problem(name, "event", "the event name")
    if problem is None and name in RESERVED_EVENTS:
        return (
            "GA4 ignores the event: the event name (event) is reserved by Google Analytics "
            "(such as session_start or first_visit); rename it"
        )
    return problem


def _value_problem(value: object, field: str, limit: int = MAX_VALUE) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return (
            f"GA4 ignores the event: the value of {field} must be a string or a number; "
            "flatten objects and lists in the pipeline"
        )
    if isinstance(value, str) and len(value) > limit:
        return (
            f"GA4 ignores the event: the value of {field} is longer than {limit} characters; "
            "shorten it in the pipeline"
        )
    return None


def params_problem(params: Mapping[str, Any], prefix: str) -> str | None:
    """The fixed message for the first parameter rule ``params`` breaks, or None.

    ``prefix`` names where the parameters come from in messages (``properties``
    for custom events, ``values`` for recommended ones). ``None`` values must
    already be left out (they mean "absent").
    """
    if len(params) > MAX_PARAMS:
        return (
            f"GA4 ignores the event: it has more than {MAX_PARAMS} parameters ({prefix}); "
            "send fewer properties"
        )
    for key, value in params.items():
        field = f"{prefix}.{key}"
        problem = _name_problem(key, field, "a parameter name")
        if problem is None and key in _RESERVED_PARAMS:
            problem = f"GA4 ignores the event: the parameter name ({field}) is reserved"
        if problem is not None:
            return problem
        if key == "items" and isinstance(value, list):
            problem = _items_problem(value, field)
        else:
            problem = _value_problem(value, field, _LONG_VALUES.get(key, MAX_VALUE))
        if problem is not None:
            return problem
    return None


def _items_problem(items: list[Any], field: str) -> str | None:
    if len(items) > MAX_ITEMS:
        return f"GA4 ignores the event: {field} has more than {MAX_ITEMS} items"
    for item in items:
        if not isinstance(item, dict):
            return f"GA4 ignores the event: every element of {field} must be an object"
        for key, value in item.items():
            inner = f"{field}[].{key}"
            problem = _name_problem(key, inner, "an item parameter name")
            if problem is None and value is not None:
                problem = _value_problem(value, inner)
            if problem is not None:
                return problem
    return None
