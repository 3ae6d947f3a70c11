"""A local fake of GA4's Measurement Protocol: ``/mp/collect`` and ``/debug/mp/collect``.

Like the real API:

* both need ``measurement_id`` and ``api_secret`` query parameters; an
  unknown pair is refused with 403 on the validation endpoint, while
  ``/mp/collect`` answers 204 and stores nothing (GA4 never tells a sender);
* ``/mp/collect`` answers 204 to every JSON body and silently drops what
  breaks a rule (the rules of :mod:`._rules`, plus a missing ``client_id``,
  more than 25 events, a body of 130 kB or more): valid events of a request
  are kept, invalid ones are not;
* ``/debug/mp/collect`` stores nothing and answers 200 with
  ``{"validationMessages": [{"fieldPath", "description", "validationCode"}]}``
  (empty when the request is valid);
* 429 with ``Retry-After`` past 30 requests per second per path.

:attr:`collected` holds every kept event with its ``client_id`` and
``user_id``; :attr:`requests` the kept events of each ``/mp/collect`` request.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from syncline.connectors.google_analytics._rules import (
    MAX_BODY,
    MAX_EVENTS,
    event_problem,
    params_problem,
)
from syncline.sdk.testing.sandbox import Sandbox
from syncline.sdk.testing.server import FaultServer, ReceivedRequest, Reply

__all__ = ["API_SECRET", "MEASUREMENT_ID", "GoogleAnalyticsSandbox"]

MEASUREMENT_ID = "G-SANDBOX42"
API_SECRET = "sandbox-api-secret"


class GoogleAnalyticsSandbox(Sandbox):
    """One GA4 web data stream."""

    code = "google-analytics"

    def populate(self, records: int, rng: random.Random) -> None:
        self.collected: list[dict[str, Any]] = []
        self.requests: list[list[dict[str, Any]]] = []

    def install(self, server: FaultServer) -> None:
        server.route("POST", "/mp/collect", self.collect)
        server.route("POST", "/debug/mp/collect", self.debug_collect)
        self.rate_limit(30, burst=30, prefix="/mp/collect")
        self.rate_limit(30, burst=30, prefix="/debug/mp/collect")

    def settings(self) -> dict[str, Any]:
        return {"measurement_id": MEASUREMENT_ID, "api_secret": API_SECRET, "base_url": self.url}

    def bad_settings(self) -> dict[str, Any]:
        return {
            "measurement_id": MEASUREMENT_ID,
            "api_secret": "revoked-api-secret",
            "base_url": self.url,
        }

    def rate_limited_reply(self, retry_after: float) -> Reply:
        return Reply(
            429,
            json={"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}},
            retry_after=retry_after,
        )

    def collect(self, request: ReceivedRequest) -> Reply:
        if not _authorized(request):
            return Reply(204)
        body, messages = _validate(request.body)
        if body is None or any(m["fieldPath"] in ("", "client_id", "events") for m in messages):
            return Reply(204)
        bad = {m["index"] for m in messages if "index" in m}
        kept = [e for i, e in enumerate(body["events"]) if i not in bad]
        for event in kept:
            self.collected.append(
                {"client_id": body["client_id"], "user_id": body.get("user_id"), **event}
            )
        self.requests.append(kept)
        return Reply(204)

    def debug_collect(self, request: ReceivedRequest) -> Reply:
        if not _authorized(request):
            return Reply(
                403,
                json={"error": {"code": 403, "message": "invalid api_secret or measurement_id"}},
            )
        _, messages = _validate(request.body)
        shown = [{k: v for k, v in m.items() if k != "index"} for m in messages]
        return Reply(200, json={"validationMessages": shown})


def _authorized(request: ReceivedRequest) -> bool:
    return (
        request.params.get("measurement_id") == MEASUREMENT_ID
        and request.params.get("api_secret") == API_SECRET
    )


def _message(path: str, description: str, code: str, index: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"fieldPath": path, "description": description, "validationCode": code}
    if index is not None:
        out["index"] = index
    return out


def _validate(raw: bytes) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The parsed body (None when unusable) and its validation messages.

    A message about one event carries that event's ``index`` (removed from
    what the debug endpoint shows).
    """
    if len(raw) >= MAX_BODY:
        return None, [_message("", "the request body must be smaller than 130kB", "VALUE_INVALID")]
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, [_message("", "unable to parse the JSON body", "VALUE_INVALID")]
    if not isinstance(body, dict):
        return None, [_message("", "the body must be a JSON object", "VALUE_INVALID")]
    messages: list[dict[str, Any]] = []
    if not isinstance(body.get("client_id"), str) or not body["client_id"]:
        messages.append(_message("client_id", "client_id is required", "VALUE_REQUIRED"))
    events = body.get("events")
    if not isinstance(events, list):
        messages.append(_message("events", "events must be a list", "VALUE_INVALID"))
        return None, messages
    if len(events) > MAX_EVENTS:
        messages.append(_message("events", "at most 25 events per request", "VALUE_INVALID"))
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            messages.append(
                _message(f"events[{index}]", "must be an object", "VALUE_INVALID", index)
            )
            continue
        name = event.get("name")
        problem = event_problem(name if isinstance(name, str) else None)
        path = f"events[{index}].name"
        if problem is None:
            params = event.get("params") or {}
            if not isinstance(params, dict):
                problem = "params must be an object"
            else:
                problem = params_problem(params, "params")
            path = f"events[{index}].params"
        if problem is not None:
            messages.append(_message(path, problem, "NAME_INVALID", index))
    return body, messages
