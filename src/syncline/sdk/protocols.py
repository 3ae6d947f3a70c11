"""The capabilities a connector class implements, as typing protocols.

A connector is a plain class whose constructor takes an :class:`~syncline.sdk.env.Env`.
It implements the capabilities its spec declares; registration checks that the
two agree (see :mod:`syncline.sdk.registry`). Every method is ``async``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import httpx

from syncline.types import Object, Role

if TYPE_CHECKING:
    from syncline.sdk.env import Problem
    from syncline.sdk.events import Events, EventType
    from syncline.sdk.json_records import JsonPage, JsonRecords
    from syncline.sdk.records import Record, Records

__all__ = [
    "Checker",
    "EventSender",
    "OAuthAccountProvider",
    "RecordFetcher",
    "RecordUpserter",
    "RecordsPage",
]


class RecordsPage:
    """One page of a read: the records, the cursor for the next call, and whether the read is done.

    ``cursor`` is opaque to the engine; it is checkpointed durably after the
    page's records are written and handed back, unchanged, to the next
    ``records()`` call — also after a crash, so it must be valid in a new
    process. ``done=True`` ends the read; ``cursor`` is then ignored.

    ``RecordsPage(records, cursor, done)`` holds records the connector built.
    :meth:`from_json` holds a JSON body instead, decoded by the engine (see
    :mod:`syncline.sdk.json_records`); its ``records``, ``cursor`` and
    ``done`` are decoded on first access. Immutable; compares by value.
    """

    __slots__ = ("_cursor", "_done", "_json", "_records")
    __match_args__ = ("records", "cursor", "done")
    __hash__ = None  # type: ignore[assignment]  # records are not hashable

    _records: list[Record] | None
    _cursor: str | None
    _done: bool
    _json: JsonPage | None

    def __init__(self, records: list[Record], cursor: str | None, done: bool) -> None:
        object.__setattr__(self, "_records", records)
        object.__setattr__(self, "_cursor", cursor)
        object.__setattr__(self, "_done", done)
        object.__setattr__(self, "_json", None)

    @classmethod
    def from_json(
        cls,
        body: bytes,
        shape: JsonRecords,
        *,
        cursor: str | None = None,
        done: bool | None = None,
    ) -> RecordsPage:
        """A page of the records in the JSON ``body``, found where ``shape`` says.

        With ``shape.next`` the body gives the next cursor and whether the read
        is done; without it, pass ``done`` (and ``cursor`` when not done).
        Nothing is parsed here: the engine decodes the body with the run's
        schema, validating every item natively in the same pass when it can.
        A body that is not JSON or not of that shape fails the read with a
        ``PermanentError`` that names the path.
        """
        from syncline.sdk.json_records import JsonPage, JsonRecords

        if not isinstance(shape, JsonRecords):
            raise TypeError(
                f"RecordsPage.from_json: shape must be a JsonRecords, got {type(shape).__name__}"
            )
        if not isinstance(body, bytes | bytearray | memoryview):
            raise TypeError(
                "RecordsPage.from_json: body must be the response's bytes (response.content), "
                f"got {type(body).__name__}"
            )
        if shape.next is not None and (cursor is not None or done is not None):
            raise ValueError(
                "RecordsPage.from_json: the body gives the cursor (shape.next is set); do not "
                "pass cursor or done"
            )
        if shape.next is None and done is None:
            raise ValueError(
                "RecordsPage.from_json: pass done (and the cursor when not done), or name the "
                "cursor's member in JsonRecords(next=...)"
            )
        page = cls.__new__(cls)
        object.__setattr__(page, "_records", None)
        object.__setattr__(page, "_cursor", cursor)
        object.__setattr__(page, "_done", bool(done))
        object.__setattr__(page, "_json", JsonPage(bytes(body), shape, cursor, done))
        return page

    @property
    def json(self) -> JsonPage | None:
        """The undecoded body of a :meth:`from_json` page (for the engine), else None."""
        return self._json

    @property
    def records(self) -> list[Record]:
        """The page's records (a :meth:`from_json` page decodes them generically here)."""
        if self._records is None:
            self._decode()
        assert self._records is not None
        return self._records

    @property
    def cursor(self) -> str | None:
        if self._records is None:
            self._decode()
        return self._cursor

    @property
    def done(self) -> bool:
        if self._records is None:
            self._decode()
        return self._done

    def _decode(self) -> None:
        from syncline.sdk.json_records import decode

        assert self._json is not None
        decoded = decode(self._json)
        object.__setattr__(self, "_cursor", decoded.cursor)
        object.__setattr__(self, "_done", decoded.done)
        object.__setattr__(self, "_records", decoded.records)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"RecordsPage is immutable; cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"RecordsPage is immutable; cannot delete {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordsPage):
            return NotImplemented
        return (self.records, self.cursor, self.done) == (other.records, other.cursor, other.done)

    def __repr__(self) -> str:
        if self._records is None:
            return f"RecordsPage.from_json(<{len(self._json.body) if self._json else 0} bytes>)"
        return (
            f"RecordsPage(records={self._records!r}, cursor={self._cursor!r}, done={self._done!r})"
        )


@runtime_checkable
class RecordFetcher(Protocol):
    """Reads records of the targets the spec declares as a source."""

    async def record_schema(self, target: str, role: Role) -> Object:
        """The schema of ``target`` records as the app has them now.

        Called before every run, so a schema may change between runs (custom
        properties added in the app). For ``Role.SOURCE`` give every property
        the app can return; for ``Role.DESTINATION`` every property the app
        accepts, with ``create_required``/``update_required`` set.
        """
        ...

    async def records(
        self,
        target: str,
        updated_at: datetime | None,
        cursor: str | None,
        schema: Object,
    ) -> RecordsPage:
        """Read the next page of ``target`` records.

        * ``updated_at`` — return records changed at or after this instant
          (UTC); ``None`` means every record. Returning older records too is
          allowed (they are deduplicated), missing a changed one is not.
        * ``cursor`` — ``None`` on the first call of a read, otherwise the
          cursor this method returned last, possibly from a previous process.
        * ``schema`` — the properties the pipeline needs; fetching only these
          is allowed, returning more is harmless.
        * Each record carries the app's real ``updated_at`` (never "now":
          faking it breaks incremental reads) and the app's own ``id``.
        * A record may appear in several pages or reads (the engine keeps the
          last one of a run). An empty page with ``done=False`` is allowed.
        * Raise a typed error from :mod:`syncline.sdk.errors` when the page
          cannot be read; a record that cannot be read on its own is returned
          with ``error`` set and becomes a per-record error.
        """
        ...


@runtime_checkable
class RecordUpserter(Protocol):
    """Creates and updates records of the targets the spec declares as a destination."""

    async def record_schema(self, target: str, role: Role) -> Object: ...

    async def upsert(self, target: str, records: Records, schema: Object) -> None:
        """Create or update some of ``records`` in the app with ONE request.

        ``records`` is non-empty. A record with an empty ``id`` is a create;
        otherwise ``id`` is the app's ID of the record to update. Attribute
        values are canonical and match ``schema`` (no need to re-check kinds).

        * Take records with exactly one of ``records.all()``, ``records.same()``
          (only records of the first's operation — for apps with separate
          create and update endpoints) or ``records.first()``. A record is
          consumed once yielded; stop early and the rest come in a later call.
        * ``records.discard(error)`` drops the current record with an error
          (e.g. it fails the app's own rules) — it is never retried;
          ``records.postpone()`` hands it back for a later call (only if its
          attributes were not changed, never for the first record).
        * After the request: return normally if every consumed record was
          written; raise ``RecordsError({index: error})`` for the ones the app
          rejected (indexes count consumed records in yield order, leaving out
          discarded and postponed ones); raise any other error to fail every
          consumed record with it (a ``RetryableError`` lets the engine retry).
        """
        ...


@runtime_checkable
class EventSender(Protocol):
    """Sends received events to the app."""

    async def event_types(self) -> list[EventType]:
        """The event types a pipeline can send as (unique ``id`` each)."""
        ...

    async def event_type_schema(self, type_id: str) -> Object | None:
        """Values a pipeline must compute for ``type_id``; None when none are needed.

        Raise ``PermanentError`` when ``type_id`` is not one of ``event_types()``.
        """
        ...

    async def send_events(self, events: Events) -> None:
        """Send some of ``events`` with ONE request.

        ``events`` is non-empty. Take events with exactly one of
        ``events.all()``, ``events.same_user()`` (events of the first event's
        anonymous ID — for apps that take one user per request) or
        ``events.first()``; pack as many as the app allows, checking count and
        body size as you go: when an event would not fit, ``events.postpone()``
        it and stop (never the first event: discard or fail it instead).
        ``events.discard(error)`` drops an event the app would reject (the app
        never sees it). After the request, raise ``EventsError({index: error})``
        for events the app rejected, or another error to fail every consumed
        event. Use ``event.idempotency_key`` where the app deduplicates.
        """
        ...

    async def preview_send_events(self, events: Events) -> httpx.Request | None:
        """The exact request ``send_events`` would send, without sending it.

        Credentials are ``[REDACTED]`` (``env.http.preview``) and the pipeline
        ID in any identifier is ``[PIPELINE]``. None when every event was
        discarded. Share one code path with ``send_events``.
        """
        ...


@runtime_checkable
class Checker(Protocol):
    """Tests the connection's live settings."""

    async def check(self) -> list[Problem]:
        """Problems found (empty: the settings work). Never raises for bad settings."""
        ...


@runtime_checkable
class OAuthAccountProvider(Protocol):
    async def oauth_account(self) -> str:
        """A stable ID of the authorized account (portal, workspace, tenant)."""
        ...
