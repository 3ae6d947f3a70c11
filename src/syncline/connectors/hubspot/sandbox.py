"""A faithful local fake of HubSpot's CRM v3 API (contacts, companies, deals).

Built from HubSpot's public API docs (see ``docs/connectors/hubspot.md``):

* ``GET /crm/v3/properties/{object}`` — property definitions: ``type``,
  ``fieldType``, ``options``, ``hidden``, ``calculated``,
  ``modificationMetadata.readOnlyValue``;
* ``GET /crm/v3/objects/{object}`` — ``limit`` (at most 100), ``after``,
  ``properties`` (comma-separated; unknown names are ignored), ``archived``;
  pages end with ``paging.next.after``;
* ``POST /crm/v3/objects/{object}/search`` — ``filterGroups`` (OR of ANDed
  filters: ``EQ NEQ GT GTE LT LTE HAS_PROPERTY NOT_HAS_PROPERTY``), one sort,
  ``limit`` at most 200, ``after`` an offset, ``total``; past 10,000 results
  it answers 400, as HubSpot does. Archived objects are never found;
* ``POST /crm/v3/objects/{object}/batch/create`` and ``/batch/update`` — at
  most 100 inputs; each input is validated (unknown property, read-only
  property, email format, enumeration option, number, date, duplicate email,
  unknown ID). With ``objectWriteTraceId`` on the inputs the answer is 201/200
  when all are written, else **207** with ``results`` and ``errors`` (each
  with ``context.objectWriteTraceId``, or ``context.ids`` for updates); without
  it, one invalid input fails the whole batch with 400 and nothing is written;
* a bearer token (401 ``INVALID_AUTHENTICATION`` otherwise);
* rate limits per token, as rolling windows: ``per_ten_seconds`` requests per
  10 s (100 by default, HubSpot's private-app limit) and ``search_per_second``
  searches per second (4 by default), answered with HubSpot's 429 body; every
  answer carries the ``X-HubSpot-RateLimit-*`` headers. Searches count against
  the search limit only.

Times: ``createdAt``/``updatedAt`` and datetime properties are ISO 8601 in
UTC with milliseconds; filters take Unix milliseconds or ISO 8601.
"""

from __future__ import annotations

import bisect
import copy
import heapq
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from syncline.sdk.testing.sandbox import Sandbox
from syncline.sdk.testing.server import FaultServer, ReceivedRequest, Reply, Step

__all__ = ["TOKEN", "HubSpotSandbox"]

TOKEN = "pat-na1-sandbox-0000-token"
"""The private-app token the sandbox accepts."""

SEARCH_CEILING = 10_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_BASE = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
_YEAR_MS = 365 * 24 * 3600 * 1000


def _prop(name: str, kind: str, field_type: str, **extra: Any) -> dict[str, Any]:
    read_only = bool(extra.pop("read_only", False))
    definition = {
        "name": name,
        "label": name.replace("_", " ").title(),
        "type": kind,
        "fieldType": field_type,
        "groupName": "info",
        "options": extra.pop("options", []),
        "hidden": extra.pop("hidden", False),
        "calculated": extra.pop("calculated", False),
        "modificationMetadata": {
            "archivable": True,
            "readOnlyDefinition": read_only,
            "readOnlyValue": read_only,
        },
    }
    definition.update(extra)
    return definition


def _options(*values: str) -> list[dict[str, Any]]:
    return [
        {"label": v.title(), "value": v, "displayOrder": i, "hidden": False}
        for i, v in enumerate(values)
    ]


def _common(modified: str) -> list[dict[str, Any]]:
    return [
        _prop("hs_object_id", "number", "number", read_only=True),
        _prop("createdate", "datetime", "date", read_only=True),
        _prop(modified, "datetime", "date", read_only=True),
        _prop("hs_internal_score", "number", "number", hidden=True),
    ]


_LIFECYCLE = ("subscriber", "lead", "opportunity", "customer")
_INTERESTS = ("sports", "music", "travel", "books")
_INDUSTRIES = ("SOFTWARE", "RETAIL", "FINANCE", "HEALTH")
_STAGES = ("appointmentscheduled", "qualifiedtobuy", "closedwon", "closedlost")

DEFINITIONS: dict[str, list[dict[str, Any]]] = {
    "contacts": [
        *_common("lastmodifieddate"),
        _prop("email", "string", "text"),
        _prop("firstname", "string", "text"),
        _prop("lastname", "string", "text"),
        _prop("phone", "string", "phonenumber"),
        _prop("lifecyclestage", "enumeration", "radio", options=_options(*_LIFECYCLE)),
        _prop("interests", "enumeration", "checkbox", options=_options(*_INTERESTS)),
        _prop("annualrevenue", "number", "number"),
        _prop("date_of_birth", "date", "date"),
        _prop("newsletter", "bool", "booleancheckbox", options=_options("true", "false")),
        _prop("num_notes", "number", "number", calculated=True),
    ],
    "companies": [
        *_common("hs_lastmodifieddate"),
        _prop("name", "string", "text"),
        _prop("domain", "string", "text"),
        _prop("industry", "enumeration", "select", options=_options(*_INDUSTRIES)),
        _prop("numberofemployees", "number", "number"),
    ],
    "deals": [
        *_common("hs_lastmodifieddate"),
        _prop("dealname", "string", "text"),
        _prop("amount", "number", "number"),
        _prop("dealstage", "enumeration", "select", options=_options(*_STAGES)),
        _prop("closedate", "datetime", "date"),
    ],
}
MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
TARGETS = {"users": "contacts", "companies": "companies", "deals": "deals"}
_DEFAULT_PROPERTIES = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate"),
}


def iso(ms: int) -> str:
    """Unix milliseconds as HubSpot writes times: ``2025-01-01T00:00:00.000Z``."""
    stamp = datetime.fromtimestamp(ms / 1000, UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_ms(value: str) -> int | None:
    """Unix milliseconds of a filter value or datetime property (digits or ISO 8601)."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


@dataclass(slots=True)
class HubObject:
    """One stored CRM object: its properties as HubSpot keeps them (text)."""

    id: int
    properties: dict[str, str]
    created: int
    updated: int
    archived: bool = False


@dataclass(slots=True)
class _Window:
    """A rolling window: at most ``limit`` requests in any ``seconds``."""

    limit: int
    seconds: float
    times: deque[float] = field(default_factory=deque)

    def take(self, now: float) -> bool:
        while self.times and now - self.times[0] >= self.seconds:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True

    def remaining(self, now: float) -> int:
        while self.times and now - self.times[0] >= self.seconds:
            self.times.popleft()
        return max(0, self.limit - len(self.times))


class HubSpotSandbox(Sandbox):
    """HubSpot's CRM API on 127.0.0.1, seeded with ``records`` objects per target.

    ``per_ten_seconds`` and ``search_per_second`` set the rate limits (while
    :attr:`limits`); about 2 % of seeded objects are archived.
    """

    code: ClassVar[str] = "hubspot"

    def __init__(
        self,
        *,
        per_ten_seconds: int = 100,
        search_per_second: int = 4,
        daily: int = 250_000,
        **options: Any,
    ) -> None:
        self.objects: dict[str, dict[int, HubObject]] = {}
        self.definitions = copy.deepcopy(DEFINITIONS)
        self.general = _Window(per_ten_seconds, 10.0)
        self.search = _Window(search_per_second, 1.0)
        self.daily = daily
        self.used_today = 0
        self.rate_limited = 0
        self._clock = 0
        self._next_id = 1
        super().__init__(**options)

    async def __aenter__(self) -> HubSpotSandbox:
        await self.start()
        return self

    # -- data -----------------------------------------------------------------

    def populate(self, records: int, rng: random.Random) -> None:
        for kind in DEFINITIONS:
            store: dict[int, HubObject] = {}
            previous = _BASE
            for i in range(records):
                created = _BASE + int(rng.random() * _YEAR_MS)
                # Every 25th object shares its predecessor's change time, as
                # bulk imports make them do in HubSpot.
                updated = previous if i % 25 == 1 else created + int(rng.random() * 1e9)
                previous = updated
                obj = HubObject(self._next_id, self._seed_values(kind, i, rng), created, updated)
                obj.archived = rng.random() < 0.02
                store[obj.id] = obj
                self._next_id += 1
            self.objects[kind] = store

    @staticmethod
    def _seed_values(kind: str, i: int, rng: random.Random) -> dict[str, str]:
        if kind == "contacts":
            return {
                "email": f"contact{i}@example.com",
                "firstname": f"First{i}",
                "lastname": f"Last{i}",
                "phone": f"+1555{i:07d}",
                "lifecyclestage": rng.choice(_LIFECYCLE),
                "interests": ";".join(sorted(rng.sample(_INTERESTS, rng.randint(0, 2)))),
                "annualrevenue": str(rng.randint(0, 10_000) * 100),
                "date_of_birth": f"{1950 + i % 50}-0{1 + i % 9}-1{i % 9}",
                "newsletter": rng.choice(("true", "false")),
                "num_notes": str(i % 7),
            }
        if kind == "companies":
            return {
                "name": f"Company {i}",
                "domain": f"company{i}.example.com",
                "industry": rng.choice(_INDUSTRIES),
                "numberofemployees": str(rng.randint(1, 5000)),
            }
        return {
            "dealname": f"Deal {i}",
            "amount": f"{rng.randint(100, 100_000)}.50",
            "dealstage": rng.choice(_STAGES),
            "closedate": iso(_BASE + int(rng.random() * _YEAR_MS)),
        }

    def now_ms(self) -> int:
        """HubSpot's clock: wall-clock milliseconds, never going back."""
        self._clock = max(self._clock, int(time.time() * 1000))
        return self._clock

    def live(self, kind: str) -> list[HubObject]:
        return [o for o in self.objects[kind].values() if not o.archived]

    def ids(self, target: str) -> list[str]:
        return [str(o.id) for o in self.live(TARGETS[target])]

    def updated_at_of(self, target: str, record_id: str) -> datetime:
        obj = self.objects[TARGETS[target]][int(record_id)]
        return datetime.fromtimestamp(obj.updated / 1000, UTC)

    def touch(self, target: str, n: int) -> list[str]:
        """Change ``n`` live objects (a text property) and stamp them modified now."""
        kind = TARGETS[target]
        changed = sorted(self.live(kind), key=lambda o: (o.updated, o.id))[:n]
        field_name = {"contacts": "firstname", "companies": "name", "deals": "dealname"}[kind]
        for obj in changed:
            obj.properties[field_name] = f"Touched {obj.id}"
            obj.updated = self.now_ms()
        return [str(o.id) for o in changed]

    def archive(self, target: str, n: int) -> list[str]:
        """Archive ``n`` live objects (HubSpot's delete), as of now; return their IDs."""
        chosen = sorted(self.live(TARGETS[target]), key=lambda o: o.id)[:n]
        for obj in chosen:
            obj.archived = True
            obj.updated = self.now_ms()
        return [str(o.id) for o in chosen]

    def value(self, kind: str, obj: HubObject, name: str) -> str | None:
        """A property's value as the API shows it (computed ones included)."""
        if name == "hs_object_id":
            return str(obj.id)
        if name == "createdate":
            return iso(obj.created)
        if name == MODIFIED[kind]:
            return iso(obj.updated)
        return obj.properties.get(name)

    def render(self, kind: str, obj: HubObject, names: list[str]) -> dict[str, Any]:
        known = self._definitions(kind)
        return {
            "id": str(obj.id),
            "properties": {n: self.value(kind, obj, n) for n in names if n in known},
            "createdAt": iso(obj.created),
            "updatedAt": iso(obj.updated),
            "archived": obj.archived,
        }

    def _definitions(self, kind: str) -> dict[str, dict[str, Any]]:
        return {d["name"]: d for d in self.definitions[kind]}

    # -- connection ----------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {"access_token": TOKEN, "base_url": self.url}

    def bad_settings(self) -> dict[str, Any]:
        return {"access_token": "pat-na1-revoked-token", "base_url": self.url}

    def _limit_headers(self, remaining: int) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": str(self.general.limit),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self.used_today)),
        }

    def rate_limited_reply(self, retry_after: float, policy: str = "TEN_SECONDLY_ROLLING") -> Reply:
        """HubSpot's 429: its JSON error and rate-limit headers (no ``Retry-After``)."""
        self.rate_limited += 1
        body = {
            "status": "error",
            "message": f"You have reached your {policy.lower()} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.UUID(int=random.getrandbits(128))),
            "policyName": policy,
            "groupName": "api-calls-private-app",
        }
        return Reply(429, json=body, headers=self._limit_headers(0))

    # -- routes --------------------------------------------------------------

    def install(self, server: FaultServer) -> None:
        server.intercept(self._gate)
        server.transform(self._headers)
        for kind in DEFINITIONS:
            base = f"/crm/v3/objects/{kind}"
            server.route("GET", f"/crm/v3/properties/{kind}", self._bind(self._properties, kind))
            server.route("GET", base, self._bind(self._list, kind))
            server.route("POST", f"{base}/search", self._bind(self._search, kind))
            server.route("POST", f"{base}/batch/create", self._bind(self._create, kind))
            server.route("POST", f"{base}/batch/update", self._bind(self._update, kind))

    @staticmethod
    def _bind(
        handler: Callable[[str, ReceivedRequest], Any], kind: str
    ) -> Callable[[ReceivedRequest], Any]:
        return lambda request: handler(kind, request)

    def _gate(self, request: ReceivedRequest) -> Step | None:
        """Authentication first, then HubSpot's rolling windows (while limits are on)."""
        if request.header("authorization") != f"Bearer {TOKEN}":
            return Reply(
                401,
                json={
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                    "correlationId": str(uuid.uuid4()),
                },
            )
        if not self.limits:
            return None
        now = time.monotonic()
        if request.method == "POST" and request.path.endswith("/search"):
            if not self.search.take(now):
                return self.rate_limited_reply(1.0, "SECONDLY")
            return None
        if not self.general.take(now):
            return self.rate_limited_reply(10.0)
        self.used_today += 1
        return None

    def _headers(self, request: ReceivedRequest, reply: Reply) -> Reply:
        if reply.status == 429 or not request.path.startswith("/crm/"):
            return reply
        headers = {**self._limit_headers(self.general.remaining(time.monotonic())), **reply.headers}
        return Reply(**{**_fields(reply), "headers": headers})

    def _properties(self, kind: str, request: ReceivedRequest) -> Any:
        return {"results": self.definitions[kind]}

    def _list(self, kind: str, request: ReceivedRequest) -> Any:
        params = request.params
        try:
            limit = int(params.get("limit", "10"))
        except ValueError:
            return _error(400, "limit must be a number")
        if not 1 <= limit <= 100:
            return _error(400, f"limit {limit} is out of range: it must be between 1 and 100")
        archived = params.get("archived", "false") == "true"
        names = [n for n in params.get("properties", "").split(",") if n] or list(
            _DEFAULT_PROPERTIES[kind]
        )
        after = int(params["after"]) if params.get("after", "").isdigit() else 0
        # Objects in ID order (IDs grow as objects are created); ``after`` is
        # the first ID of the next page.
        store = self.objects[kind]
        ids = list(store)
        chosen: list[HubObject] = []
        for obj_id in ids[bisect.bisect_left(ids, after) :]:
            obj = store[obj_id]
            if obj.archived == archived:
                chosen.append(obj)
                if len(chosen) > limit:
                    break
        body: dict[str, Any] = {"results": [self.render(kind, o, names) for o in chosen[:limit]]}
        if len(chosen) > limit:
            following = str(chosen[limit].id)
            body["paging"] = {
                "next": {"after": following, "link": f"{self.url}{request.path}?after={following}"}
            }
        return body

    def _search(self, kind: str, request: ReceivedRequest) -> Any:
        try:
            query = request.json()
        except ValueError:
            return _error(400, "Invalid input JSON")
        limit = int(query.get("limit", 10))
        if not 1 <= limit <= 200:
            return _error(400, f"limit {limit} is out of range: it must be between 1 and 200")
        after = int(query.get("after") or 0)
        if after + limit > SEARCH_CEILING:
            return _error(
                400,
                "The search API returns at most 10,000 results for a query; narrow the filters",
            )
        definitions = self._definitions(kind)
        try:
            groups = [
                self._compile(kind, g.get("filters") or [], definitions)
                for g in query.get("filterGroups") or []
            ]
        except _BadQuery as bad:
            return _error(400, str(bad))
        if not groups:
            found = self.live(kind)
        elif len(groups) == 1:
            found = [o for o in self.live(kind) if groups[0](o)]
        else:
            found = [o for o in self.live(kind) if any(g(o) for g in groups)]
        sorts = query.get("sorts") or []
        sort = sorts[0] if sorts and isinstance(sorts[0], dict) else {}
        by = self._getter(kind, sort.get("propertyName", "hs_object_id"), definitions)
        pick = heapq.nlargest if sort.get("direction") == "DESCENDING" else heapq.nsmallest
        # Only the first after + limit results are ever shown: no full sort.
        page = pick(after + limit, found, key=by)[after:]
        names = list(query.get("properties") or _DEFAULT_PROPERTIES[kind])
        body: dict[str, Any] = {
            "total": len(found),
            "results": [self.render(kind, o, names) for o in page],
        }
        if after + limit < len(found):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return body

    def _getter(
        self, kind: str, name: str, definitions: dict[str, dict[str, Any]]
    ) -> Callable[[HubObject], Any]:
        """A property's value for filters and sorts: numbers and times compare as numbers."""
        if name == MODIFIED[kind]:
            return lambda o: o.updated
        if name == "createdate":
            return lambda o: o.created
        if name == "hs_object_id":
            return lambda o: o.id
        definition = definitions.get(name)
        return lambda o: _key(o.properties.get(name), definition)

    def _compile(
        self, kind: str, filters: list[dict[str, Any]], definitions: dict[str, dict[str, Any]]
    ) -> Callable[[HubObject], bool]:
        """One filter group (its filters ANDed) as a predicate; ``_BadQuery`` if malformed."""
        tests: list[Callable[[HubObject], bool]] = []
        for rule in filters:
            name = str(rule.get("propertyName", ""))
            operator = rule.get("operator", "EQ")
            present = self._present(kind, name)
            if operator == "HAS_PROPERTY":
                tests.append(present)
            elif operator == "NOT_HAS_PROPERTY":
                tests.append(_negated(present))
            elif operator in _COMPARE:
                get = self._getter(kind, name, definitions)
                right = _key(str(rule.get("value", "")), definitions.get(name))
                tests.append(_comparison(get, operator, right, present))
            else:
                raise _BadQuery(f"operator {operator!r} is not supported")
        if len(tests) == 1:
            return tests[0]
        return lambda o: all(test(o) for test in tests)

    def _present(self, kind: str, name: str) -> Callable[[HubObject], bool]:
        if name in (MODIFIED[kind], "createdate", "hs_object_id"):
            return lambda o: True
        return lambda o: o.properties.get(name) not in (None, "")

    # -- writes --------------------------------------------------------------

    def _create(self, kind: str, request: ReceivedRequest) -> Any:
        return self._batch(kind, request, create=True)

    def _update(self, kind: str, request: ReceivedRequest) -> Any:
        return self._batch(kind, request, create=False)

    def _batch(self, kind: str, request: ReceivedRequest, *, create: bool) -> Any:
        try:
            inputs = request.json()["inputs"]
        except (ValueError, KeyError, TypeError):
            return _error(400, 'Invalid input JSON: expected {"inputs": [...]}')
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            return _error(400, "Batch input must hold between 1 and 100 inputs")
        traced = all(isinstance(i, dict) and i.get("objectWriteTraceId") for i in inputs)
        emails = {o.properties.get("email"): o.id for o in self.live(kind) if kind == "contacts"}
        errors: list[dict[str, Any]] = []
        valid: list[tuple[dict[str, Any], HubObject | None]] = []
        for item in inputs:
            problem, target = self._check(kind, item, create, emails)
            if problem is None:
                valid.append((item, target))
                continue
            context = (
                {"objectWriteTraceId": [str(item["objectWriteTraceId"])]}
                if traced
                else ({"ids": [str(item.get("id"))]} if not create else {})
            )
            errors.append({**problem, "context": context})
        if errors and not traced:
            # Without trace IDs HubSpot cannot tell which input failed: the
            # whole batch is refused and nothing is written.
            first = errors[0]
            return Reply(400, json={**first, "correlationId": str(uuid.uuid4())})
        results = [self._write(kind, item, target) for item, target in valid]
        now = iso(self.now_ms())
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now,
            "completedAt": now,
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return Reply(207, json=body)
        return Reply(201 if create else 200, json=body)

    def _check(
        self, kind: str, item: Any, create: bool, emails: dict[str | None, int]
    ) -> tuple[dict[str, Any] | None, HubObject | None]:
        if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
            return _problem("VALIDATION_ERROR", "INVALID_INPUT", ""), None
        target = None
        if not create:
            raw = str(item.get("id", ""))
            target = self.objects[kind].get(int(raw)) if raw.isdigit() else None
            if target is None or target.archived:
                problem = {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some objects, they may be deleted or not exist.",
                }
                return problem, None
        definitions = self._definitions(kind)
        for name, value in item["properties"].items():
            text = "" if value is None else str(value)
            code = _invalid(definitions.get(name), text)
            if code is not None:
                return _problem("VALIDATION_ERROR", code, name), None
        email = item["properties"].get("email")
        if kind == "contacts" and email:
            owner = emails.get(str(email))
            if owner is not None and (target is None or owner != target.id):
                problem = {
                    "status": "error",
                    "category": "CONFLICT",
                    "message": f"Contact already exists. Existing ID: {owner}",
                }
                return problem, None
            emails[str(email)] = target.id if target is not None else -1
        return None, target

    def _write(self, kind: str, item: dict[str, Any], target: HubObject | None) -> dict[str, Any]:
        now = self.now_ms()
        if target is None:
            target = HubObject(self._next_id, {}, now, now)
            self._next_id += 1
            self.objects[kind][target.id] = target
        for name, value in item["properties"].items():
            text = "" if value is None else str(value)
            if text == "":
                target.properties.pop(name, None)
            else:
                target.properties[name] = text
        target.updated = now
        names = list(item["properties"])
        out = self.render(kind, target, names)
        out["objectWriteTraceId"] = item.get("objectWriteTraceId")
        return out


def _negated(test: Callable[[HubObject], bool]) -> Callable[[HubObject], bool]:
    return lambda o: not test(o)


def _comparison(
    get: Callable[[HubObject], Any],
    operator: str,
    right: Any,
    present: Callable[[HubObject], bool],
) -> Callable[[HubObject], bool]:
    """``value <operator> right``; an absent value matches only ``NEQ``, as in HubSpot."""
    compare = _COMPARE[operator]
    unset = operator == "NEQ"
    return lambda o: bool(compare(get(o), right)) if present(o) else unset


class _BadQuery(ValueError):
    """A search request HubSpot would refuse with 400."""


def _fields(reply: Reply) -> dict[str, Any]:
    return {name: getattr(reply, name) for name in Reply.__dataclass_fields__}


def _error(status: int, message: str) -> Reply:
    return Reply(
        status,
        json={
            "status": "error",
            "message": message,
            "category": "VALIDATION_ERROR",
            "correlationId": str(uuid.uuid4()),
        },
    )


def _problem(category: str, code: str, name: str) -> dict[str, Any]:
    return {
        "status": "error",
        "category": category,
        "message": "Property values were not valid",
        "errors": [
            {
                "message": f"Property {name!r} is not valid ({code})",
                "code": code,
                "context": {"propertyName": [name]},
            }
        ],
    }


def _invalid(definition: dict[str, Any] | None, text: str) -> str | None:
    """HubSpot's error code for writing ``text`` to a property, or None if it is accepted."""
    if definition is None or definition.get("hidden"):
        return "PROPERTY_DOESNT_EXIST"
    if definition.get("calculated") or definition["modificationMetadata"]["readOnlyValue"]:
        return "READ_ONLY_VALUE"
    if text == "":
        return None
    kind = definition["type"]
    if definition["name"] == "email" and not _EMAIL.match(text):
        return "INVALID_EMAIL"
    if kind == "number":
        try:
            float(text)
        except ValueError:
            return "INVALID_INTEGER"
    if kind in ("date", "datetime") and to_ms(text) is None:
        return "INVALID_DATE"
    if kind == "bool" and text not in ("true", "false"):
        return "INVALID_OPTION"
    if kind == "enumeration" and definition["options"]:
        allowed = {o["value"] for o in definition["options"]}
        if any(part not in allowed for part in text.split(";") if part):
            return "INVALID_OPTION"
    return None


def _key(value: str | None, definition: dict[str, Any] | None) -> Any:
    """A comparable form of a property value: numbers and times as numbers."""
    if value is None:
        return ""
    kind = (definition or {}).get("type")
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return float("nan")
    if kind in ("datetime", "date"):
        ms = to_ms(value)
        return ms if ms is not None else -1
    return value


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": lambda a, b: a == b,
    "NEQ": lambda a, b: a != b,
    "GT": lambda a, b: a > b,
    "GTE": lambda a, b: a >= b,
    "LT": lambda a, b: a < b,
    "LTE": lambda a, b: a <= b,
}
