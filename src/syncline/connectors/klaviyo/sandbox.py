"""A local fake of Klaviyo's profiles and bulk event jobs endpoints (JSON:API).

It checks what the real API checks, as its public reference describes it:

* ``Authorization: Klaviyo-API-Key <key>`` (401 otherwise) and a ``revision``
  header holding a date ``YYYY-MM-DD`` (400 when missing or malformed);
* ``GET /api/profiles/``: ``page[size]`` 1 to 100 (default 20),
  ``page[cursor]``, ``sort=updated`` (the only sort), and
  ``filter=greater-or-equal(updated,<ISO time>)``; any other filter or sort is
  a 400. ``links.next`` is the full URL of the next page, None after the last;
* ``POST /api/profiles/``: 201 with the new profile; a profile needs one of
  ``email``, ``phone_number`` or ``external_id``; an invalid email or a phone
  number not in E.164 is a 400 whose error points at the attribute
  (``source.pointer``); an identifier another profile has is a 409
  ``duplicate_profile`` with ``meta.duplicate_profile_id``;
* ``PATCH /api/profiles/{id}/``: 200, 404 for an unknown ID, same checks;
* ``POST /api/event-bulk-create-jobs/``: at most 1,000 events and 5 MB
  (413 over the size); every item needs a profile identifier, a metric name and
  a time between 2000 and one year from now, else a 400 pointing at the item
  and nothing is written; events are deduplicated by ``unique_id``; 202;
* fixed windows per account: profiles 75/s and 700/min, bulk jobs 10/s and
  150/min, answered with Klaviyo's 429 ``throttled`` error and ``Retry-After``.

:attr:`events` holds the accepted events by ``unique_id``; :attr:`jobs` the
item count of each accepted bulk request.
"""

from __future__ import annotations

import random
import re
import string
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson

from syncline.sdk.testing.sandbox import Collection, Sandbox, cursor_page, seeded_times
from syncline.sdk.testing.server import FaultServer, ReceivedRequest, Reply

__all__ = ["API_KEY", "KlaviyoSandbox"]

API_KEY = "pk_sandbox_0000000000000000000000000000"
MAX_PAGE = 100
MAX_EVENTS = 1000
MAX_BODY = 5 * 1024 * 1024
IDENTIFIERS = ("email", "phone_number", "external_id")
FIELDS = (
    "email",
    "phone_number",
    "external_id",
    "first_name",
    "last_name",
    "organization",
    "title",
)
_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.pre)?$")
_FILTER = re.compile(r"^greater-or-equal\(updated,([^)]+)\)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_PROFILES = "/api/profiles/"
_BULK = "/api/event-bulk-create-jobs/"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


class KlaviyoSandbox(Sandbox):
    """One Klaviyo account: profiles in ``collections["users"]``, events in :attr:`events`."""

    code = "klaviyo"

    def populate(self, records: int, rng: random.Random) -> None:
        times = seeded_times(records, rng)
        self.events: dict[str, dict[str, Any]] = {}
        self.jobs: list[int] = []
        self.collections["users"] = Collection(
            [
                (
                    {
                        "id": self._new_id(rng),
                        "email": f"user{i}@example.com",
                        "phone_number": None,
                        "external_id": f"ext-{i}",
                        "first_name": f"First{i}",
                        "last_name": f"Last{i}",
                        "organization": None,
                        "title": None,
                        "created": _iso(times[i]),
                    },
                    times[i],
                )
                for i in range(records)
            ],
            updated_field="updated",
            time_format=_iso,
        )

    def install(self, server: FaultServer) -> None:
        server.route("GET", _PROFILES, self.list_profiles)
        server.route("POST", _PROFILES, self.create_profile)
        server.route("PATCH", _PROFILES + "{profile_id}/", self.update_profile)
        server.route("POST", _BULK, self.bulk_events)
        self.window_limit(75, 1.0, prefix=_PROFILES)
        self.window_limit(700, 60.0, prefix=_PROFILES)
        self.window_limit(10, 1.0, prefix=_BULK)
        self.window_limit(150, 60.0, prefix=_BULK)

    def settings(self) -> dict[str, Any]:
        return {"api_key": API_KEY, "base_url": self.url}

    def bad_settings(self) -> dict[str, Any]:
        return {"api_key": "pk_revoked_key", "base_url": self.url}

    def rate_limited_reply(self, retry_after: float) -> Reply:
        return Reply(
            429,
            json=_errors(429, "throttled", "Request was throttled."),
            retry_after=retry_after,
        )

    def change(self, target: str, record: Any) -> dict[str, Any]:
        return {"title": f"Changed {record.get('title') or ''}".strip()}

    def _new_id(self, rng: random.Random | None = None) -> str:
        source = rng or self.rng
        return "01" + "".join(
            source.choice(string.ascii_uppercase + string.digits) for _ in range(24)
        )

    # -- profiles ------------------------------------------------------------

    def list_profiles(self, request: ReceivedRequest) -> Reply:
        refused = _refused(request)
        if refused is not None:
            return refused
        params = request.params
        try:
            size = int(params.get("page[size]", "20"))
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_PAGE:
            return _invalid(400, "page[size] must be between 1 and 100", "page[size]")
        if params.get("sort", "updated") != "updated":
            return _invalid(400, "unsupported sort", "sort")
        since = None
        if "filter" in params:
            match = _FILTER.match(params["filter"])
            try:
                since = datetime.fromisoformat(match[1]) if match else None
            except ValueError:
                since = None
            if since is None:
                return _invalid(400, "invalid filter", "filter")
        users = self.collections["users"]
        ids = users.ordered(since)
        page, following = cursor_page(ids, params.get("page[cursor]"), size)
        next_url = None
        if following is not None:
            query = {k: v for k, v in params.items() if k != "page[cursor]"}
            query["page[cursor]"] = following
            next_url = f"{self.url}{_PROFILES}?{urlencode(query)}"
        return Reply(
            200,
            json={
                "data": [_resource(users.render(i)) for i in page],
                "links": {"self": f"{self.url}{_PROFILES}", "next": next_url, "prev": None},
            },
        )

    def create_profile(self, request: ReceivedRequest) -> Reply:
        refused = _refused(request)
        if refused is not None:
            return refused
        attributes, problem = _attributes(request, None)
        if problem is not None:
            return problem
        if not any(attributes.get(k) for k in IDENTIFIERS):
            return _invalid(
                400, "One of email, phone_number or external_id is required", "", "/data/attributes"
            )
        duplicate = self._duplicate(attributes, None)
        if duplicate is not None:
            return duplicate
        now = datetime.now(UTC)
        record = {k: attributes.get(k) for k in FIELDS}
        record.update(id=self._new_id(), created=_iso(now))
        users = self.collections["users"]
        record_id = users.put(record, now)
        return Reply(201, json={"data": _resource(users.render(record_id))})

    def update_profile(self, request: ReceivedRequest) -> Reply:
        refused = _refused(request)
        if refused is not None:
            return refused
        profile_id = request.path.rstrip("/").rsplit("/", 1)[-1]
        users = self.collections["users"]
        if profile_id not in users:
            return Reply(404, json=_errors(404, "not_found", "Not found."))
        attributes, problem = _attributes(request, profile_id)
        if problem is not None:
            return problem
        duplicate = self._duplicate(attributes, profile_id)
        if duplicate is not None:
            return duplicate
        users.touch(profile_id, attributes, datetime.now(UTC))
        return Reply(200, json={"data": _resource(users.render(profile_id))})

    def _duplicate(self, attributes: dict[str, Any], own: str | None) -> Reply | None:
        users = self.collections["users"]
        for key in IDENTIFIERS:
            value = attributes.get(key)
            if not value:
                continue
            for other in users.ids():
                record = users.get(other)
                if other != own and record is not None and record.get(key) == value:
                    body = _errors(409, "duplicate_profile", "Conflict.")
                    body["errors"][0]["meta"] = {"duplicate_profile_id": other}
                    return Reply(409, json=body)
        return None

    # -- bulk events ---------------------------------------------------------

    def bulk_events(self, request: ReceivedRequest) -> Reply:
        refused = _refused(request)
        if refused is not None:
            return refused
        if len(request.body) > MAX_BODY:
            return Reply(413, json=_errors(413, "payload_too_large", "Payload too large."))
        try:
            items = orjson.loads(request.body)["data"]["attributes"]["events-bulk-create"]["data"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _invalid(400, "malformed bulk create document", "", "/data")
        if not isinstance(items, list) or not items:
            return _invalid(400, "no events", "", "/data/attributes/events-bulk-create/data")
        accepted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            events, problem = _bulk_item(item)
            pointer = f"/data/attributes/events-bulk-create/data/{index}"
            if problem is not None:
                error = _errors(400, "invalid", "Invalid input.")["errors"][0]
                error["source"] = {"pointer": pointer + problem}
                errors.append(error)
                continue
            accepted.extend(events)
        if len(accepted) > MAX_EVENTS:
            return _invalid(400, "more than 1000 events", "", "/data/attributes/events-bulk-create")
        if errors:
            return Reply(400, json={"errors": errors})
        for event in accepted:
            self.events.setdefault(event["unique_id"], event)
        self.jobs.append(len(items))
        job = {"type": "event-bulk-create-job", "id": self._new_id(), "attributes": {}}
        return Reply(202, json={"data": job})


def _refused(request: ReceivedRequest) -> Reply | None:
    if request.header("authorization") != f"Klaviyo-API-Key {API_KEY}":
        return Reply(401, json=_errors(401, "not_authenticated", "Authentication failed."))
    if not _REVISION.match(request.header("revision") or ""):
        return _invalid(400, "missing or invalid revision header", "revision")
    return None


def _attributes(request: ReceivedRequest, own: str | None) -> tuple[dict[str, Any], Reply | None]:
    try:
        data = orjson.loads(request.body)["data"]
        attributes = dict(data["attributes"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return {}, _invalid(400, "malformed profile document", "", "/data")
    if data.get("type") != "profile" or (own is not None and data.get("id") != own):
        return {}, _invalid(400, "type must be profile and id the URL's", "", "/data")
    for key in attributes:
        if key not in FIELDS:
            return {}, _invalid(400, "unknown attribute", "", f"/data/attributes/{key}")
    email = attributes.get("email")
    if email is not None and not (isinstance(email, str) and _EMAIL.match(email)):
        return {}, _invalid(400, "Invalid email address", "", "/data/attributes/email")
    phone = attributes.get("phone_number")
    if phone is not None and not (isinstance(phone, str) and _PHONE.match(phone)):
        return {}, _invalid(400, "Invalid phone number", "", "/data/attributes/phone_number")
    return attributes, None


def _bulk_item(item: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The item's events, or the pointer suffix of its first problem."""
    try:
        attributes = item["attributes"]
        profile = attributes["profile"]["data"]["attributes"]
        events = [e["attributes"] for e in attributes["events"]["data"]]
    except (KeyError, TypeError):
        return [], ""
    if not any(profile.get(k) for k in IDENTIFIERS):
        return [], "/profile"
    email = profile.get("email")
    if email is not None and not _EMAIL.match(str(email)):
        return [], "/profile/email"
    for event in events:
        name = ((event.get("metric") or {}).get("data") or {}).get("attributes", {}).get("name")
        if not isinstance(name, str) or not name:
            return [], "/metric"
        try:
            at = datetime.fromisoformat(str(event.get("time")))
        except ValueError:
            return [], "/time"
        if at.tzinfo is None or not _EARLIEST <= at <= datetime.now(UTC) + timedelta(days=365):
            return [], "/time"
        if not isinstance(event.get("unique_id"), str) or not event["unique_id"]:
            return [], "/unique_id"
    return events, None


def _resource(rendered: dict[str, Any]) -> dict[str, Any]:
    attributes = {k: v for k, v in rendered.items() if k != "id"}
    return {"type": "profile", "id": rendered["id"], "attributes": attributes}


def _errors(status: int, code: str, title: str) -> dict[str, Any]:
    return {"errors": [{"id": "sandbox", "status": status, "code": code, "title": title}]}


def _invalid(status: int, detail: str, parameter: str, pointer: str | None = None) -> Reply:
    body = _errors(status, "invalid", "Invalid input.")
    body["errors"][0]["detail"] = detail
    body["errors"][0]["source"] = {"pointer": pointer} if pointer else {"parameter": parameter}
    return Reply(status, json=body)
