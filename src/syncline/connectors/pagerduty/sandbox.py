"""A faithful local fake of PagerDuty's REST API v2: users, incidents, services, abilities.

Built from PagerDuty's public API documentation:

* auth: ``Authorization: Token token=<key>``, else 401 with
  ``{"error": {"message": "Authentication failed", "code": 2006}}``; the
  ``Accept`` header must ask for ``application/vnd.pagerduty+json;version=2``,
  else 406;
* classic pagination: ``limit`` (default 25, at most 100), ``offset``,
  ``more``, and ``total`` only with ``total=true`` (else ``null``);
  ``offset + limit`` above 10,000 is refused with 400 and code 2001;
* ``GET /incidents``: ``since``/``until`` on creation time (``since``
  inclusive, ``until`` exclusive; at most six months apart, code 2005; bad
  times code 2004; neither given: the last 30 days), ``date_range=all``
  (ignores both), ``statuses[]``, ``service_ids[]``, ``sort_by``
  (``created_at``, ``incident_number``, ``resolved_at`` or ``urgency``, with
  ``:asc``/``:desc``); ``GET /incidents/{id}``;
* ``GET /users`` (``query``: the start of a name or an email), ``GET /users/{id}``,
  ``GET /services/{id}`` (404 with code 2100 when unknown), ``GET /abilities``;
* 960 requests per minute per token in fixed one-minute windows; every answer
  carries ``ratelimit-limit``/``ratelimit-remaining``/``ratelimit-reset`` and a
  refused one is a 429 with ``{"error": {"message": "Rate Limit Exceeded",
  "code": 2020}}``.

``records`` is the number of incidents; ``users`` the number of users (default:
as many as incidents, at most 1,000 — an account rarely has more people than
incidents); ``incident_span`` how far back incidents were created (from
2026-01-01), so a test can pack more than 10,000 incidents into one six-month
window.
"""

from __future__ import annotations

import bisect
import math
import random
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from syncline.connectors.pagerduty._cursor import format_time
from syncline.sdk.testing.sandbox import Sandbox
from syncline.sdk.testing.server import FaultServer, ReceivedRequest, Reply

__all__ = ["SANDBOX_TOKEN", "PagerDutySandbox"]

SANDBOX_TOKEN = "sandbox-pagerduty-token"
_ACCEPT = "application/vnd.pagerduty+json;version=2"
_BASE = "https://sandbox.pagerduty.example"
_ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
_CEILING = 10_000
_MAX_RANGE = timedelta(days=183)
_PER_MINUTE = 960
_STATUSES = ("triggered", "acknowledged", "resolved")
_ROLES = ("admin", "limited_user", "observer", "owner", "read_only_user", "user")
_SORTS: dict[str, Any] = {
    "created_at": None,  # the stored order: (created_at, incident_number)
    "incident_number": None,  # numbers follow creation, so the same order
    "resolved_at": lambda i: (i["resolved_at"] is None, i["resolved_at"] or _ANCHOR),
    "urgency": lambda i: i["urgency"],
}
_ZONES = ("Europe/Rome", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney")


def _error(status: int, message: str, code: int, errors: list[str] | None = None) -> Reply:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return Reply(status, json={"error": body})


def _ref(kind: str, item_id: str, summary: str, path: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"{_BASE}/{path}/{item_id}",
        "html_url": f"{_BASE}/{path}/{item_id}",
    }


class PagerDutySandbox(Sandbox):
    """PagerDuty's REST API v2 on 127.0.0.1, seeded with users and incidents."""

    code = "pagerduty"

    def __init__(
        self,
        *,
        users: int | None = None,
        incident_span: timedelta = timedelta(days=730),
        **options: Any,
    ) -> None:
        self.user_count = users
        self.incident_span = incident_span
        self.users: dict[str, dict[str, Any]] = {}
        self.incidents: dict[str, dict[str, Any]] = {}
        # Incident IDs in (created_at, incident_number) order, with their creation times for bisect.
        self._by_created: list[str] = []
        self._created: list[datetime] = []
        super().__init__(**options)

    # -- data ----------------------------------------------------------------

    def populate(self, records: int, rng: random.Random) -> None:
        self.services = [
            _ref("service", f"PSV{i:04d}", f"Service {i}", "services") for i in range(5)
        ]
        self.policies = [
            _ref("escalation_policy", f"PEP{i:04d}", f"Policy {i}", "escalation_policies")
            for i in range(2)
        ]
        self.teams = [_ref("team", f"PTM{i:04d}", f"Team {i}", "teams") for i in range(3)]
        count = min(records, 1000) if self.user_count is None else self.user_count
        for i in range(count):
            user_id = f"PU{i:05X}"
            self.users[user_id] = {
                "id": user_id,
                "type": "user",
                "summary": f"User {i}",
                "self": f"{_BASE}/users/{user_id}",
                "html_url": f"{_BASE}/users/{user_id}",
                "name": f"User {i}",
                "email": f"user{i}@example.com",
                "time_zone": rng.choice(_ZONES),
                "color": rng.choice(("red", "green", "purple")),
                "role": rng.choice(_ROLES),
                "avatar_url": f"{_BASE}/avatars/{user_id}.png",
                "description": None,
                "invitation_sent": rng.random() < 0.1,
                "job_title": rng.choice(("SRE", "Engineer", "Manager", None)),
                "teams": [rng.choice(self.teams)],
                "contact_methods": [],
                "notification_rules": [],
            }
        span = self.incident_span.total_seconds()
        start = _ANCHOR - self.incident_span
        created = sorted(
            start + timedelta(seconds=int(rng.random() * span)) for _ in range(records)
        )
        people = list(self.users.values())
        for number, at in enumerate(created, start=1):
            incident_id = f"Q{number:07X}"
            status = rng.choices(_STATUSES, weights=(1, 1, 8))[0]
            changed = at + timedelta(minutes=rng.randint(1, 600)) if status != "triggered" else at
            assignee = rng.choice(people) if people else None
            self.incidents[incident_id] = {
                "id": incident_id,
                "type": "incident",
                "summary": f"[#{number}] Disk almost full",
                "self": f"{_BASE}/incidents/{incident_id}",
                "html_url": f"{_BASE}/incidents/{incident_id}",
                "incident_number": number,
                "title": "Disk almost full",
                "description": "Disk almost full",
                "status": status,
                "urgency": rng.choice(("high", "low")),
                "incident_key": f"key-{number}",
                "created_at": at,
                "updated_at": changed,
                "last_status_change_at": changed,
                "resolved_at": changed if status == "resolved" else None,
                "service": rng.choice(self.services),
                "escalation_policy": rng.choice(self.policies),
                "assignments": (
                    [
                        {
                            "at": at,
                            "assignee": _ref("user", assignee["id"], assignee["name"], "users"),
                        }
                    ]
                    if assignee is not None and status != "resolved"
                    else []
                ),
                "teams": [rng.choice(self.teams)],
                "priority": None,
                "alert_counts": {"all": 1, "triggered": int(status == "triggered"), "resolved": 0},
            }
            self._by_created.append(incident_id)
            self._created.append(at)

    def ids(self, target: str) -> list[str]:
        return list(self._store(target))

    def updated_at_of(self, target: str, record_id: str) -> datetime | None:
        """An incident's ``updated_at``; None for a user (PagerDuty keeps no change time for users)."""
        if target == "users":
            if record_id not in self.users:
                raise LookupError(f"no user {record_id!r}")
            return None
        changed: datetime = self._store(target)[record_id]["updated_at"]
        return changed

    def touch(self, target: str, n: int) -> list[str]:
        """Change ``n`` records the way PagerDuty would, oldest first; return their IDs.

        Incidents: open ones move on (triggered → acknowledged → resolved) with
        ``updated_at`` and ``last_status_change_at`` set to now; resolved ones
        get a new title and ``updated_at``. Users: the job title changes
        (PagerDuty keeps no change time for users).
        """
        now = datetime.now(UTC).replace(microsecond=0)
        if target == "users":
            ids = list(self.users)[:n]
            for user_id in ids:
                self.users[user_id]["job_title"] = "Incident Commander"
            return ids
        open_first = sorted(
            self._by_created, key=lambda i: self.incidents[i]["status"] == "resolved"
        )
        ids = open_first[:n]
        for incident_id in ids:
            incident = self.incidents[incident_id]
            if incident["status"] == "resolved":
                incident["title"] = incident["title"] + " (reviewed)"
            else:
                incident["status"] = (
                    "acknowledged" if incident["status"] == "triggered" else "resolved"
                )
                incident["last_status_change_at"] = now
                if incident["status"] == "resolved":
                    incident["resolved_at"] = now
                    incident["assignments"] = []
            incident["updated_at"] = now
        return ids

    def _store(self, target: str) -> dict[str, dict[str, Any]]:
        if target == "users":
            return self.users
        if target == "incidents":
            return self.incidents
        raise LookupError(f"PagerDuty has no target {target!r}")

    # -- server --------------------------------------------------------------

    def install(self, server: FaultServer) -> None:
        self.minute = self.window_limit(_PER_MINUTE, 60.0)
        server.route("GET", "/abilities", self._guarded(self._abilities))
        server.route("GET", "/users", self._guarded(self._list_users))
        server.route("GET", "/users/{id}", self._guarded(self._show_user))
        server.route("GET", "/incidents", self._guarded(self._list_incidents))
        server.route("GET", "/incidents/{id}", self._guarded(self._show_incident))
        server.route("GET", "/services/{id}", self._guarded(self._show_service))
        server.transform(self._rate_headers)

    def settings(self) -> dict[str, Any]:
        return {"api_token": SANDBOX_TOKEN, "base_url": self.url}

    def bad_settings(self) -> dict[str, Any]:
        return {"api_token": "revoked-pagerduty-token", "base_url": self.url}

    def rate_limited_reply(self, retry_after: float) -> Reply:
        reset = str(max(1, math.ceil(retry_after)))
        return replace(
            _error(429, "Rate Limit Exceeded", 2020),
            headers={
                "ratelimit-limit": str(_PER_MINUTE),
                "ratelimit-remaining": "0",
                "ratelimit-reset": reset,
            },
        )

    def _rate_headers(self, request: ReceivedRequest, reply: Reply) -> Reply:
        if "ratelimit-limit" in reply.headers:
            return reply
        left = max(0.0, self.minute.seconds - (time.monotonic() - self.minute.started))
        headers = dict(reply.headers)
        headers["ratelimit-limit"] = str(_PER_MINUTE)
        headers["ratelimit-remaining"] = str(max(0, _PER_MINUTE - self.minute.used))
        headers["ratelimit-reset"] = str(max(1, math.ceil(left)))
        return replace(reply, headers=headers)

    def _guarded(self, handler: Any) -> Any:
        def answer(request: ReceivedRequest) -> Any:
            if request.header("authorization") != f"Token token={SANDBOX_TOKEN}":
                return _error(401, "Authentication failed", 2006)
            accept = request.header("accept") or ""
            if _ACCEPT not in accept.replace(" ", ""):
                return _error(
                    406,
                    "Not Acceptable",
                    2001,
                    [f"Accept must be {_ACCEPT}"],
                )
            return handler(request)

        return answer

    def _abilities(self, request: ReceivedRequest) -> Any:
        return {"abilities": ["teams", "read_only_users", "urgencies", "sso"]}

    def _show_user(self, request: ReceivedRequest) -> Any:
        user = self.users.get(request.path_params["id"])
        return _error(404, "Not Found", 2100) if user is None else {"user": user}

    def _show_service(self, request: ReceivedRequest) -> Any:
        found = [s for s in self.services if s["id"] == request.path_params["id"]]
        return {"service": found[0]} if found else _error(404, "Not Found", 2100)

    def _show_incident(self, request: ReceivedRequest) -> Any:
        incident = self.incidents.get(request.path_params["id"])
        return (
            _error(404, "Not Found", 2100) if incident is None else {"incident": _render(incident)}
        )

    def _list_users(self, request: ReceivedRequest) -> Any:
        paging = _paging(request.params)
        if isinstance(paging, Reply):
            return paging
        limit, offset = paging
        # `query` matches the start of a name or an email, case-insensitively.
        needle = request.params.get("query", "").lower()
        ids = [
            i
            for i, user in self.users.items()
            if not needle
            or user["name"].lower().startswith(needle)
            or user["email"].lower().startswith(needle)
        ]
        return _page(
            "users",
            [self.users[i] for i in ids[offset : offset + limit]],
            request,
            limit,
            offset,
            len(ids),
        )

    def _list_incidents(self, request: ReceivedRequest) -> Any:
        paging = _paging(request.params)
        if isinstance(paging, Reply):
            return paging
        limit, offset = paging
        params = request.params
        multi: dict[str, list[str]] = {}
        for key, value in request.query:
            multi.setdefault(key, []).append(value)
        statuses = multi.get("statuses[]", [])
        if any(status not in _STATUSES for status in statuses):
            return _error(
                400,
                "Invalid Input Provided",
                2001,
                ["Statuses must be a list of triggered, acknowledged, or resolved."],
            )
        services = set(multi.get("service_ids[]", []))
        order = params.get("sort_by", "created_at:asc")
        field, _, direction = order.partition(":")
        if field not in _SORTS or direction not in ("", "asc", "desc"):
            return _error(400, "Invalid Input Provided", 2001, [f"Invalid sort_by {order!r}"])
        if params.get("date_range") == "all":
            lo, hi = 0, len(self._by_created)
        else:
            window = _range(params)
            if isinstance(window, Reply):
                return window
            since, until = window
            lo = bisect.bisect_left(self._created, since)
            hi = bisect.bisect_left(self._created, until)
        matched = [
            self.incidents[i]
            for i in self._by_created[lo:hi]
            if (not statuses or self.incidents[i]["status"] in statuses)
            and (not services or self.incidents[i]["service"]["id"] in services)
        ]
        if field in ("resolved_at", "urgency"):
            # Stable: equal keys keep creation order. Unresolved incidents sort last.
            matched.sort(key=_SORTS[field])
        if direction == "desc":
            matched.reverse()
        page = [_render(item) for item in matched[offset : offset + limit]]
        return _page("incidents", page, request, limit, offset, len(matched))


def _paging(params: Mapping[str, str]) -> tuple[int, int] | Reply:
    try:
        limit = int(params.get("limit", "25"))
        offset = int(params.get("offset", "0"))
    except ValueError:
        return _error(400, "Invalid Input Provided", 2001, ["limit and offset must be integers"])
    if limit < 1 or offset < 0:
        return _error(400, "Invalid Input Provided", 2001, ["limit and offset must be positive"])
    limit = min(limit, 100)
    if offset + limit > _CEILING:
        return _error(
            400,
            "Invalid Input Provided",
            2001,
            [f"Offset plus limit must not exceed {_CEILING}; narrow the query with filters"],
        )
    return limit, offset


def _range(params: Mapping[str, str]) -> tuple[datetime, datetime] | Reply:
    def parse(name: str) -> datetime | None:
        value = params.get(name)
        if not value:
            return None
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    try:
        since, until = parse("since"), parse("until")
    except ValueError:
        return _error(400, "Invalid time values in 'since' and/or 'until' parameters", 2004)
    now = datetime.now(UTC)
    if until is None:
        until = now
    if since is None:
        since = until - timedelta(days=30)
    if since > until or until - since > _MAX_RANGE:
        return _error(400, "Invalid Query Date Range", 2005, ["The maximum range is 6 months"])
    return since, until


def _page(
    key: str,
    items: list[dict[str, Any]],
    request: ReceivedRequest,
    limit: int,
    offset: int,
    total: int,
) -> dict[str, Any]:
    return {
        key: items,
        "limit": limit,
        "offset": offset,
        "more": offset + len(items) < total,
        "total": total if request.params.get("total") == "true" else None,
    }


def _render(incident: dict[str, Any]) -> dict[str, Any]:
    """An incident as the API writes it: times in ISO 8601 with ``Z``."""
    out = dict(incident)
    for name in ("created_at", "updated_at", "last_status_change_at", "resolved_at"):
        if out[name] is not None:
            out[name] = format_time(out[name])
    out["assignments"] = [
        {"at": format_time(a["at"]), "assignee": a["assignee"]} for a in incident["assignments"]
    ]
    return out
