"""The HubSpot connector: contacts as users (read and write), companies and deals (read).

See ``docs/connectors/hubspot.md`` for what it reads and writes, the limits it
honours and HubSpot's quirks it handles.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator

from syncline.connectors.hubspot._reading import (
    LIST_LIMIT,
    millis,
    next_search_cursor,
    parse_cursor,
    search_body,
    to_records,
)
from syncline.connectors.hubspot._schema import object_schema
from syncline.connectors.hubspot._writing import BATCH_LIMIT, batch_input, input_errors
from syncline.sdk.env import Env, Problem
from syncline.sdk.errors import ConnectorError, PermanentError, RecordsError
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.records import Record, Records
from syncline.sdk.registry import connector
from syncline.sdk.spec import (
    ApplicationSpec,
    AsDestination,
    AsSource,
    EndpointGroup,
    Exponential,
    FailureReason,
    RateLimit,
    RetryAfter,
    RetryPolicy,
    Terms,
)
from syncline.types import Object, Role

__all__ = ["OBJECTS", "SPEC", "HubSpot", "HubSpotSettings"]

OBJECTS = {"users": "contacts", "companies": "companies", "deals": "deals"}
"""Syncline target → HubSpot object type."""
URL_BUDGET = 6_000
"""Longest ``properties`` list a full read sends in the list API's URL."""
MODIFIED = {"contacts": "lastmodifieddate"}
"""The search API's last-modified property; ``hs_lastmodifieddate`` for the others."""


class HubSpotSettings(BaseModel):
    """A private app's access token, and where HubSpot's API is."""

    access_token: SecretStr = Field(
        description="Access token of a HubSpot private app (Settings → Integrations → Private "
        "apps) with the crm.objects.contacts/companies/deals read and write scopes"
    )
    base_url: str = Field(
        default="https://api.hubapi.com",
        description="HubSpot's API address; change it only to use a sandbox",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("give an http(s) URL, e.g. https://api.hubapi.com")
        return value


# HubSpot's 429s rarely carry Retry-After and never say when a rolling window
# frees up; wait with jittered backoff up to one window, pausing the bucket.
_RATE_LIMITED = RetryAfter(fallback=Exponential(1.0, 10.0, reason=FailureReason.RATE_LIMITED))
_SEARCH_RATE_LIMITED = RetryAfter(fallback=Exponential(0.5, 2.0, reason=FailureReason.RATE_LIMITED))
_SEARCHES = tuple(f"POST /crm/v3/objects/{o}/search" for o in ("contacts", "companies", "deals"))

SPEC = ApplicationSpec(
    code="hubspot",
    label="HubSpot",
    as_source=AsSource(
        targets=("users", "companies", "deals"),
        summary="Import contacts as users, and companies and deals",
    ),
    as_destination=AsDestination(targets=("users",), summary="Create and update contacts"),
    terms=Terms(user="Contact", users="Contacts", user_id="Record ID"),
    settings=HubSpotSettings,
    endpoint_groups=(
        # 100 requests per rolling 10 s for every private app. A bucket
        # admits its usable burst plus 10 s of its rate in any 10 s: with the
        # client's 98 % headroom and a burst of 3 (2 usable), 2 + 96 = 98 <=
        # 100, and the 2 tokens make up for pages that were slow to process.
        EndpointGroup(
            patterns=("/",),
            rate_limit=RateLimit(9.8, burst=3),
            retry=RetryPolicy.default().extend({429: _RATE_LIMITED}, max_attempts=8),
            name="api",
        ),
        # Search has its own, lower limit: 4 requests per second per token.
        EndpointGroup(
            patterns=_SEARCHES,
            rate_limit=RateLimit(4, burst=1),
            retry=RetryPolicy.default().extend({429: _SEARCH_RATE_LIMITED}, max_attempts=8),
            name="search",
        ),
    ),
)


@connector(SPEC)
class HubSpot:
    """Reads contacts, companies and deals; creates and updates contacts in batches of 100."""

    def __init__(self, env: Env[HubSpotSettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        """Read one contact: a refused token is a problem of ``access_token``."""
        settings = await self.env.settings.load()
        try:
            response = await self.env.http.request(
                "GET",
                f"{settings.base_url}/crm/v3/objects/contacts",
                params={"limit": 1},
                headers=_auth(settings),
                accept=(401, 403),
            )
        except ConnectorError as error:
            return [Problem(f"HubSpot could not be reached ({error.message})", field="base_url")]
        if response.status_code == 401:
            return [
                Problem(
                    "HubSpot refused the access token; copy it again from the private app's "
                    "Auth tab, or rotate it there",
                    field="access_token",
                )
            ]
        if response.status_code == 403:
            return [
                Problem(
                    "the private app lacks the scope crm.objects.contacts.read; add it in the "
                    "app's Scopes tab",
                    field="access_token",
                )
            ]
        return []

    async def record_schema(self, target: str, role: Role) -> Object:
        """The target's properties from HubSpot's properties API (see ``_schema``)."""
        settings = await self.env.settings.load()
        kind = _object(target)
        response = await self.env.http.request(
            "GET", f"{settings.base_url}/crm/v3/properties/{kind}", headers=_auth(settings)
        )
        return object_schema(list(response.json().get("results") or []), role)

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: Object
    ) -> RecordsPage:
        """A page of list results (full read) or search results (incremental); see ``_reading``."""
        settings = await self.env.settings.load()
        kind = _object(target)
        names = schema.names()
        if cursor is None and updated_at is None and len(",".join(names)) > URL_BUDGET:
            # Too many properties for a URL (HubSpot answers 414): read all
            # through search, whose properties travel in the body.
            cursor = "since:0"
        elif cursor is None:
            cursor = "list:" if updated_at is None else f"since:{millis(updated_at)}"
        if cursor == "list:":
            return await self._list(settings, target, kind, None, names, schema)
        step, parts = parse_cursor(cursor, target)
        if step == "list":
            return await self._list(settings, target, kind, parts[0], names, schema)
        modified = MODIFIED.get(kind, "hs_lastmodifieddate")
        since = int(parts[0])
        tie_after = int(parts[1]) if step == "tie" else None
        wanted = names if modified in names else [*names, modified]
        response = await self.env.http.request(
            "POST",
            f"{settings.base_url}/crm/v3/objects/{kind}/search",
            json=search_body(modified, wanted, since, tie_after),
            headers=_auth(settings),
            idempotency_key=True,  # a search changes nothing: safe to replay
        )
        body = response.json()
        items = list(body.get("results") or [])
        more = bool((body.get("paging") or {}).get("next"))
        following, done = next_search_cursor(items, more, modified, since, tie_after)
        return RecordsPage(to_records(items, schema), following, done)

    async def _list(
        self,
        settings: HubSpotSettings,
        target: str,
        kind: str,
        after: str | None,
        names: list[str],
        schema: Object,
    ) -> RecordsPage:
        params: dict[str, Any] = {"limit": LIST_LIMIT, "archived": "false"}
        if names:
            params["properties"] = ",".join(names)
        if after:
            params["after"] = after
        response = await self.env.http.request(
            "GET",
            f"{settings.base_url}/crm/v3/objects/{kind}",
            params=params,
            headers=_auth(settings),
        )
        body = response.json()
        following = ((body.get("paging") or {}).get("next") or {}).get("after")
        records = to_records(list(body.get("results") or []), schema)
        if following:
            return RecordsPage(records, f"list:{following}", False)
        return RecordsPage(records, None, True)

    async def upsert(self, target: str, records: Records, schema: Object) -> None:
        """Create or update up to 100 contacts with one batch request.

        Creates and updates go to different endpoints, so one call takes
        records of the first one's operation (``records.same()``). A create
        is never replayed by the HTTP client (a lost answer could mean it was
        written); an update sets the same values again, so it may be.
        207 and 400 answers become a ``RecordsError`` naming each rejected
        record; after a 400 HubSpot wrote nothing, so the others fail as
        retryable. An answer whose errors cannot be placed fails every record.
        """
        if target != "users":
            raise PermanentError(f"HubSpot cannot write {target!r}: only users (contacts)")
        settings = await self.env.settings.load()
        batch: list[Record] = []
        for record in records.same():
            batch.append(record)
            if len(batch) == BATCH_LIMIT:
                break
        action = "update" if batch[0].id else "create"
        response = await self.env.http.request(
            "POST",
            f"{settings.base_url}/crm/v3/objects/contacts/batch/{action}",
            json={"inputs": [batch_input(r, i) for i, r in enumerate(batch)]},
            headers=_auth(settings),
            idempotency_key=True if action == "update" else None,
            accept=(207, 400, 409),
        )
        if response.status_code in (200, 201):
            return
        failed = input_errors(_json(response), batch, response.status_code)
        if failed is None:
            raise PermanentError(
                f"HubSpot rejected the batch {action} of contacts without naming the records "
                "at fault",
                status=response.status_code,
            )
        if failed:
            raise RecordsError(failed)


def _object(target: str) -> str:
    kind = OBJECTS.get(target)
    if kind is None:
        raise PermanentError(f"HubSpot has no target {target!r}; use users, companies or deals")
    return kind


def _auth(settings: HubSpotSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.access_token.get_secret_value()}"}


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
