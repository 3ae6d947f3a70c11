"""PagerDuty as a source of ``users`` and ``incidents`` (REST API v2).

What the connector relies on, from PagerDuty's public API documentation:

* every request carries ``Authorization: Token token=<api token>`` and
  ``Accept: application/vnd.pagerduty+json;version=2``;
* lists use classic pagination — ``limit`` (at most 100), ``offset``, ``more``,
  and ``total`` only when asked with ``total=true`` — and refuse
  ``offset + limit > 10000`` with a 400 (the depth ceiling);
* ``GET /incidents`` filters on creation time with ``since``/``until`` (at
  most six months apart; a one-month default applies when neither is given)
  or takes every incident with ``date_range=all``;
* the REST API allows 960 requests per minute per token and answers a 429
  with ``ratelimit-reset`` (seconds until the window resets).

Incidents are read in creation-time windows (see :mod:`._cursor`). No list
filter selects incidents by modification time, so an incremental read
(``updated_at`` given) walks every window too and keeps the incidents whose
own ``updated_at`` is at or after the instant asked for (and before the read
started): exact, but as costly in requests as a full read. Users have no modification time in the API at
all: every read of users is a full read and records carry no ``updated_at``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from syncline import types as t
from syncline.connectors.pagerduty._cursor import (
    DEPTH_CEILING,
    PAGE_SIZE,
    Window,
    format_time,
    parse_time,
)
from syncline.connectors.pagerduty._schemas import INCIDENTS, USERS, projector
from syncline.sdk import (
    ApplicationSpec,
    AsSource,
    ConnectorError,
    EndpointGroup,
    Env,
    HeaderDriven,
    PermanentError,
    Problem,
    RateLimit,
    Record,
    RecordsPage,
    RetryPolicy,
    Role,
    Terms,
    connector,
)

__all__ = ["ACCEPT", "SPEC", "PagerDuty", "PagerDutySettings"]

ACCEPT = "application/vnd.pagerduty+json;version=2"


class PagerDutySettings(BaseModel):
    """Settings of a PagerDuty connection."""

    api_token: SecretStr = Field(
        description="REST API key (account or user key; a read-only key is enough)"
    )
    base_url: str = Field(
        "https://api.pagerduty.com",
        description="REST API base URL (https://api.eu.pagerduty.com for EU accounts)",
    )
    service_ids: list[str] = Field(
        default_factory=list,
        description="Read only incidents of these services (IDs such as PXXXXXX); empty: all",
    )


SPEC = ApplicationSpec(
    code="pagerduty",
    label="PagerDuty",
    as_source=AsSource(
        targets=("users", "incidents"),
        summary="Import users (full reads) and incidents (incremental by updated_at)",
    ),
    terms=Terms(user="User", users="Users", user_id="User ID"),
    settings=PagerDutySettings,
    endpoint_groups=(
        # 960 requests per minute per token (REST API rate limits). A bucket
        # of 16/s with a burst of 16 stays under 960 in any minute; a 429
        # says in `ratelimit-reset` how many seconds until the window resets.
        EndpointGroup(
            patterns=("/",),
            rate_limit=RateLimit(requests_per_second=16, burst=16, max_concurrent=4),
            retry=RetryPolicy.default().extend({429: HeaderDriven("ratelimit-reset")}),
            name="rest",
        ),
    ),
    description="PagerDuty users and incidents through the REST API v2.",
)


@connector(SPEC)
class PagerDuty:
    """Reads PagerDuty users and incidents; see the module docstring for the API's rules."""

    def __init__(self, env: Env[PagerDutySettings]) -> None:
        self.env = env

    async def check(self) -> list[Problem]:
        """Ask ``GET /abilities`` (works for account and user keys), then each configured service.

        401 is a problem with ``api_token``; a 404 for a service is a problem
        with ``service_ids``; an unreachable host one with ``base_url``.
        """
        settings = await self.env.settings.load()
        try:
            response = await self.env.http.request(
                "GET", _url(settings, "/abilities"), headers=_headers(settings), accept=(401, 403)
            )
        except ConnectorError as error:
            if error.status is None:
                return [Problem(f"cannot reach PagerDuty ({error.message})", field="base_url")]
            if error.status == 404:
                return [
                    Problem(
                        "no PagerDuty REST API at this URL (404 for /abilities); use "
                        "https://api.pagerduty.com or https://api.eu.pagerduty.com",
                        field="base_url",
                    )
                ]
            return [Problem(f"PagerDuty answered HTTP {error.status}; try again later")]
        if response.status_code == 401:
            return [
                Problem(
                    "PagerDuty refused the API token (401); create a REST API key under "
                    "Integrations > API Access Keys and paste it here",
                    field="api_token",
                )
            ]
        if response.status_code == 403:
            return [
                Problem(
                    "the API token may not read this account (403); use an account key or a "
                    "user key of a user who can see users and incidents",
                    field="api_token",
                )
            ]
        problems = []
        for service_id in settings.service_ids:
            found = await self.env.http.request(
                "GET",
                _url(settings, f"/services/{service_id}"),
                headers=_headers(settings),
                accept=(404,),
            )
            if found.status_code == 404:
                problems.append(
                    Problem(
                        f"no service with ID {service_id!r}; copy the ID from the service's "
                        "URL in PagerDuty",
                        field="service_ids",
                    )
                )
        return problems

    async def record_schema(self, target: str, role: Role) -> t.Object:
        return t.as_role(_schema(target), role)

    async def records(
        self, target: str, updated_at: datetime | None, cursor: str | None, schema: t.Object
    ) -> RecordsPage:
        """Read the next page of ``users`` or ``incidents``.

        * ``users``: full read always (``updated_at`` is ignored: the API has
          no modification time for users); records have ``updated_at=None``.
          The cursor is the next offset. More than 10,000 users cannot be
          paged by PagerDuty's API: the read fails at its first page with a
          ``PermanentError`` saying so rather than returning a partial list.
        * ``incidents``: every window of creation time up to the instant the
          read started, rounded up to a whole second (a cursor from
          :class:`Window`). An incident created after that is left for the
          next read. With ``updated_at``, only incidents whose ``updated_at``
          is at or after it **and before the read started** are returned: a
          change made during the read is left to the next read, so the
          high-water mark never passes a change made meanwhile to a window
          already read. A full read (``updated_at=None``) returns every
          incident as it is when its page is read. Pages may be empty with
          ``done=False``.
        """
        _schema(target)
        settings = await self.env.settings.load()
        if target == "users":
            return await self._users(settings, cursor, schema)
        return await self._incidents(settings, updated_at, cursor, schema)

    # -- users ---------------------------------------------------------------

    async def _users(
        self, settings: PagerDutySettings, cursor: str | None, schema: t.Object
    ) -> RecordsPage:
        offset = _offset(cursor)
        params: dict[str, Any] = {"limit": min(PAGE_SIZE, DEPTH_CEILING - offset), "offset": offset}
        if offset == 0:
            params["total"] = "true"
        page = await self._get(settings, "/users", params)
        total = page.get("total")
        if offset == 0 and isinstance(total, int) and total > DEPTH_CEILING:
            raise PermanentError(
                f"the account has {total} users; PagerDuty's API lists at most "
                f"{DEPTH_CEILING} of them, so a complete read is impossible"
            )
        users = page.get("users", [])
        records = [
            Record(id=str(user["id"]), attributes=_attributes(user, schema)) for user in users
        ]
        following = offset + len(users)
        done = not page.get("more") or not users
        if not done and following >= DEPTH_CEILING:
            # Users were added during the read: the rest lies past the ceiling.
            raise PermanentError(
                f"the account has more than {DEPTH_CEILING} users; PagerDuty's API lists at "
                "most that many, so a complete read is impossible"
            )
        return RecordsPage(records, cursor=None if done else str(following), done=done)

    # -- incidents -----------------------------------------------------------

    async def _incidents(
        self,
        settings: PagerDutySettings,
        updated_at: datetime | None,
        cursor: str | None,
        schema: t.Object,
    ) -> RecordsPage:
        if cursor is None:
            window = await self._first_window(settings)
            if window is None:
                return RecordsPage([], cursor=None, done=True)
        else:
            window = Window.decode(cursor)
        if window.done:
            return RecordsPage([], cursor=None, done=True)
        params = self._incident_params(settings, window)
        if window.offset == 0:
            params["total"] = "true"
        page = await self._get(settings, "/incidents", params)
        total = page.get("total")
        if window.offset == 0 and isinstance(total, int) and total > DEPTH_CEILING:
            # Too deep to page: halve the window before reading any of it.
            return RecordsPage([], cursor=window.halved().encode(), done=False)
        incidents = page.get("incidents", [])
        records = [_incident_record(incident, schema) for incident in incidents]
        if updated_at is not None:
            # Keep changes since `updated_at`, and leave those made after the
            # read started to the next read: they would raise the high-water
            # mark past changes made meanwhile to windows already read.
            since = updated_at.astimezone(UTC)
            records = [
                r for r in records if r.updated_at is None or since <= r.updated_at < window.end
            ]
        following = window.offset + len(incidents)
        if not page.get("more") or not incidents:
            position = window.following()
        elif following < DEPTH_CEILING:
            position = window.at(following)
        else:
            # The window holds more than its first page's total said: read it
            # again in halves (what was returned comes again; duplicates are allowed).
            position = window.halved()
        if position.done:
            return RecordsPage(records, cursor=None, done=True)
        return RecordsPage(records, cursor=position.encode(), done=False)

    async def _first_window(self, settings: PagerDutySettings) -> Window | None:
        """The first window of a read: from the oldest incident to now; None without incidents."""
        # Whole seconds, rounded up, keep requests and cursors readable.
        end = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        params: dict[str, Any] = {"date_range": "all", "sort_by": "created_at:asc", "limit": 1}
        if settings.service_ids:
            params["service_ids[]"] = list(settings.service_ids)
        page = await self._get(settings, "/incidents", params)
        oldest = page.get("incidents", [])
        if not oldest:
            return None
        # One second early: the oldest incident is in the first window whether
        # PagerDuty's `since` is inclusive or not.
        first = parse_time(oldest[0]["created_at"]).replace(microsecond=0) - timedelta(seconds=1)
        return Window.first(min(first, end), end)

    @staticmethod
    def _incident_params(settings: PagerDutySettings, window: Window) -> dict[str, Any]:
        params: dict[str, Any] = {
            "since": format_time(window.since),
            "until": format_time(window.until),
            "sort_by": "created_at:asc",
            "time_zone": "UTC",
            "limit": min(PAGE_SIZE, DEPTH_CEILING - window.offset),
            "offset": window.offset,
        }
        if settings.service_ids:
            params["service_ids[]"] = list(settings.service_ids)
        return params

    async def _get(
        self, settings: PagerDutySettings, path: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        response = await self.env.http.request(
            "GET", _url(settings, path), params=params, headers=_headers(settings)
        )
        body = response.json()
        if not isinstance(body, dict):
            raise PermanentError(f"PagerDuty answered {path} with a body that is not an object")
        return body


def _schema(target: str) -> t.Object:
    if target == "users":
        return USERS
    if target == "incidents":
        return INCIDENTS
    raise PermanentError(f"PagerDuty has no target {target!r}; use 'users' or 'incidents'")


def _attributes(item: dict[str, Any], schema: t.Object) -> dict[str, Any]:
    """The item's values of the properties ``schema`` declares (others, at any depth, left out)."""
    attributes: dict[str, Any] = projector(schema)(item)
    return attributes


def _incident_record(incident: dict[str, Any], schema: t.Object) -> Record:
    # The app's own modification time: `updated_at`, or the last status
    # change where an account's payload lacks it — never the time of reading.
    changed = incident.get("updated_at") or incident.get("last_status_change_at")
    return Record(
        id=str(incident["id"]),
        attributes=_attributes(incident, schema),
        updated_at=parse_time(changed) if changed else parse_time(incident["created_at"]),
    )


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise PermanentError("the users cursor is not an offset; start the read over")
    return int(cursor)


def _url(settings: PagerDutySettings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def _headers(settings: PagerDutySettings) -> dict[str, str]:
    return {
        "Authorization": f"Token token={settings.api_token.get_secret_value()}",
        "Accept": ACCEPT,
    }
