"""A local fake of Mixpanel's ``/import`` and ``/engage`` endpoints.

It checks what the real API checks, as its public docs describe it:

* ``/import``: HTTP Basic with the project token (empty password) or a
  service account with ``project_id``, else 401; a gzip body (bad gzip: 400);
  NDJSON or a JSON array by ``Content-Type``; more than 2,000 events or 10 MB
  uncompressed: 413; with ``strict=1`` every event is validated — ``event``
  a non-empty string, ``properties.distinct_id`` present and not a
  placeholder (``null``, ``anonymous`` …), ``properties.time`` present and
  between 1971-01-01 and one hour from now (seconds or milliseconds),
  ``properties.$insert_id`` present, at most 36 of ``[A-Za-z0-9-]``, the event
  at most 1 MB — and a 400 lists ``failed_records`` while the valid events are
  kept; without ``strict`` invalid events are dropped silently. Events are
  deduplicated by ``$insert_id``.
* ``/engage``: a JSON array of at most 200 updates with ``$token`` and
  ``$distinct_id``; ``$set`` creates or updates the profile. With
  ``verbose=1`` the answer is ``{"status": 1|0, "error": ...}``.
* 15 requests per second per endpoint (2,000 events each: the 30,000
  events/s of a project); over it, Mixpanel's 429.

:attr:`events` holds the imported events by ``$insert_id``;
:attr:`imports` the events of each accepted ``/import`` request, in order.
"""

from __future__ import annotations

import base64
import gzip
import random
import re
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import orjson

from syncline.sdk.testing.sandbox import Collection, Sandbox, seeded_times
from syncline.sdk.testing.server import FaultServer, ReceivedRequest, Reply

__all__ = ["PROJECT_ID", "SA_SECRET", "SA_USER", "TOKEN", "MixpanelSandbox"]

TOKEN = "sandbox-project-token"
SA_USER = "sandbox-sa.mp-service-account"
SA_SECRET = "sandbox-sa-secret"
PROJECT_ID = "424242"

MAX_EVENTS = 2000
MAX_BODY = 10 * 1024 * 1024
MAX_EVENT = 1024 * 1024
MAX_UPDATES = 200
_INSERT_ID = re.compile(r"[A-Za-z0-9-]{1,36}")
# Placeholder IDs Mixpanel's docs name as rejected (not an exhaustive list).
_PLACEHOLDERS = frozenset(
    {"anon", "anonymous", "nil", "none", "null", "n/a", "00000000-0000-0000-0000-000000000000"}
)
_MIN_TIME = datetime(1971, 1, 1, tzinfo=UTC).timestamp()


class MixpanelSandbox(Sandbox):
    """Mixpanel's ingestion endpoints for one project; profiles in ``collections["users"]``."""

    code = "mixpanel"

    def populate(self, records: int, rng: random.Random) -> None:
        times = seeded_times(records, rng)
        self.events: dict[str, dict[str, Any]] = {}
        self.imports: list[list[dict[str, Any]]] = []
        self.collections["users"] = Collection(
            [
                ({"id": f"user-{i}", "$email": f"user{i}@example.com"}, times[i])
                for i in range(records)
            ]
        )

    def install(self, server: FaultServer) -> None:
        server.route("POST", "/import", self.import_events)
        server.route("POST", "/engage", self.engage)
        self.rate_limit(15, burst=15, prefix="/import")
        self.rate_limit(15, burst=15, prefix="/engage")

    def settings(self) -> dict[str, Any]:
        return {"project_token": TOKEN, "base_url": self.url}

    def bad_settings(self) -> dict[str, Any]:
        return {"project_token": "revoked-project-token", "base_url": self.url}

    def rate_limited_reply(self, retry_after: float) -> Reply:
        return Reply(
            429,
            json={"code": 429, "error": "too many requests", "status": "Too Many Requests"},
            retry_after=retry_after,
        )

    # -- /import ---------------------------------------------------------------

    def import_events(self, request: ReceivedRequest) -> Reply:
        if not _authorized(request):
            return _error(401, "Invalid credentials", "Unauthorized")
        body = request.body
        if (request.header("content-encoding") or "").lower() == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error):
                return _error(400, "request body is not valid gzip", "Bad Request")
        if len(body) > MAX_BODY:
            return _error(413, "request body exceeds 10 MB uncompressed", "Payload Too Large")
        try:
            events = _parse(body, request.header("content-type") or "")
        except ValueError:
            return _error(400, "request body is not valid JSON or NDJSON", "Bad Request")
        if not events:
            return _error(400, "no data", "Bad Request")
        if len(events) > MAX_EVENTS:
            return _error(413, "more than 2000 events in one request", "Payload Too Large")
        strict = request.params.get("strict") == "1"
        failed: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            problem = _invalid(event)
            if problem is None:
                kept.append(event)
                self.events.setdefault(event["properties"]["$insert_id"], event)
            elif strict:
                field, message = problem
                failed.append({"index": index, "field": field, "message": message})
        self.imports.append(kept)
        if failed:
            return Reply(
                400,
                json={
                    "code": 400,
                    "error": "some data points in the request failed validation",
                    "status": "Bad Request",
                    "num_records_imported": len(kept),
                    "failed_records": failed,
                },
            )
        return Reply(200, json={"code": 200, "num_records_imported": len(kept), "status": "OK"})

    # -- /engage ---------------------------------------------------------------

    def engage(self, request: ReceivedRequest) -> Reply:
        try:
            updates = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return _engage_error("request body is not JSON")
        if not isinstance(updates, list) or not updates:
            return _engage_error("expected a non-empty JSON array of updates")
        if len(updates) > MAX_UPDATES:
            return _engage_error("more than 200 updates in one request")
        for update in updates:
            if not isinstance(update, dict) or update.get("$token") != TOKEN:
                return _engage_error("invalid token")
            if not isinstance(update.get("$distinct_id"), str) or not update["$distinct_id"]:
                return _engage_error("$distinct_id is required")
            if not isinstance(update.get("$set"), dict):
                return _engage_error("only $set updates are supported")
        users = self.collections["users"]
        now = datetime.now(UTC)
        for update in updates:
            distinct_id = update["$distinct_id"]
            if distinct_id in users:
                users.touch(distinct_id, update["$set"], now)
            else:
                users.put({"id": distinct_id, **update["$set"]}, now)
        return Reply(200, json={"status": 1, "error": None})


def _authorized(request: ReceivedRequest) -> bool:
    header = request.header("authorization") or ""
    if not header.startswith("Basic "):
        return False
    try:
        user, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    if user == SA_USER:
        return secret == SA_SECRET and request.params.get("project_id") == PROJECT_ID
    return user == TOKEN


def _parse(body: bytes, content_type: str) -> list[Any]:
    if "ndjson" in content_type:
        return [orjson.loads(line) for line in body.splitlines() if line.strip()]
    parsed = orjson.loads(body)
    return parsed if isinstance(parsed, list) else [parsed]


def _invalid(event: Any) -> tuple[str, str] | None:
    """``(field, message)`` for the first rule ``event`` breaks, or None."""
    if not isinstance(event, dict) or not isinstance(event.get("properties"), dict):
        return "properties", "'properties' must be an object"
    if len(orjson.dumps(event)) > MAX_EVENT:
        return "properties", "event exceeds 1 MB"
    if not isinstance(event.get("event"), str) or not event["event"]:
        return "event", "'event' must be a non-empty string"
    props = event["properties"]
    distinct_id = props.get("distinct_id")
    if not isinstance(distinct_id, str | int):
        return "properties.distinct_id", "'properties.distinct_id' must be specified"
    if str(distinct_id).strip().lower() in _PLACEHOLDERS:
        return "properties.distinct_id", "'properties.distinct_id' is an invalid placeholder"
    at = props.get("time")
    if not isinstance(at, int | float) or isinstance(at, bool):
        return "properties.time", "'properties.time' must be specified as seconds since epoch"
    seconds = at / 1000 if at > 1e11 else at
    if seconds < _MIN_TIME or seconds > time.time() + 3600:
        return "properties.time", "'properties.time' is out of range"
    insert_id = props.get("$insert_id")
    if not isinstance(insert_id, str) or not _INSERT_ID.fullmatch(insert_id):
        return "properties.$insert_id", "'properties.$insert_id' is invalid"
    return None


def _error(status: int, message: str, text: str) -> Reply:
    return Reply(status, json={"code": status, "error": message, "status": text})


def _engage_error(message: str) -> Reply:
    return Reply(200, json={"status": 0, "error": message})
