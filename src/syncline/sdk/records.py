"""Records and the consumable ``Records`` iterator handed to ``upsert``.

The export engine keeps a queue of records to write; for each ``upsert`` call it
builds one :class:`Records` value over the pending ones, lets the connector read
as many as fit in one request, and then closes it to learn what happened to each
record. The same machinery, :class:`ConsumableItems`, drives
:class:`syncline.sdk.events.Events` for ``send_events``.

Connector side, in one call:

* choose exactly one shape: ``all()``, ``same()`` (``same_user()`` for events)
  or ``first()``; a second shape raises :class:`IteratorMisuse`;
* an item is **consumed** as soon as it is yielded; breaking out of the loop
  leaves every item not yet yielded for the next call;
* ``postpone()`` hands the current item back for a later call (never the first
  item of the call, never a modified one); ``discard(error)`` drops it for good
  with a per-item error;
* after the call, raise ``RecordsError({index: error})`` for per-item failures
  (indexes count consumed items in the order they were yielded, leaving out
  postponed and discarded ones) or any other exception to fail every consumed
  item.

Engine side: build one value per call over a window of pending items, in queue
order, and close it after the call returned or raised::

    records = Records(window)
    try:
        await connector.upsert(target, records, schema)
    except BaseException as error:  # also cancellation: report it, then re-raise
        outcome = records.close(error)
        ...
    else:
        outcome = records.close()

Every item of the window lands in exactly one of ``Outcome.succeeded``,
``failed``, ``discarded`` and ``remaining``; ``remaining`` goes back to the head
of the queue, ahead of newer items. ``Outcome.violation`` is set when the call
broke the contract (for instance it read nothing: calling again with the same
items would spin).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, TypeVar

from syncline.sdk.errors import EventsError, PermanentError, RecordsError

__all__ = ["ConsumableItems", "IteratorMisuse", "Outcome", "Record", "Records"]

T = TypeVar("T")

# Per-item states, kept in one bytearray per call (no per-item objects).
_PENDING: Final = 0
_CONSUMED: Final = 1
_POSTPONED: Final = 2
_DISCARDED: Final = 3

CONTRACT_VIOLATION: Final = "connector returned an error index outside the consumed items"
"""The fixed message of the error given to items failed by a bad error index."""


class Record:
    """One record of an app: ``Record(id, attributes, updated_at=None, error=None)``.

    ``id`` is the app's own canonical ID (never an email or another matching
    value). On export an empty ``id`` means "create this record"; a non-empty one
    means "update the record with this ID". ``attributes`` maps property names to
    canonical values that match the schema; on export a connector may modify it
    in place (then it must not postpone the record). ``updated_at`` is when the app
    last changed the record (set on import). ``error`` is a per-record read
    failure on import; such a record carries only its ``id``.

    ``id``, ``updated_at`` and ``error`` are read-only. ``attributes`` can be
    replaced, for one owner only: once a source's ``records()`` has returned a
    record, the engine replaces its attributes with the validated, normalized
    values instead of building a second record — so a connector must not keep
    the records it returned and expect their attributes unchanged. Records
    compare by value (all four fields) and are not hashable.

    A plain class with ``__slots__``, not a frozen dataclass: an import builds
    one per record read, and a frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` call per field) costs about twice as much.
    """

    __slots__ = ("_error", "_id", "_updated_at", "attributes")
    __match_args__ = ("id", "attributes", "updated_at", "error")
    __hash__ = None  # type: ignore[assignment]  # equal by value, and attributes is a dict

    attributes: dict[str, Any]

    def __init__(
        self,
        id: str,
        attributes: dict[str, Any],
        updated_at: datetime | None = None,
        error: Exception | None = None,
    ) -> None:
        self._id = id
        self.attributes = attributes
        self._updated_at = updated_at
        self._error = error

    if TYPE_CHECKING:

        @property
        def id(self) -> str: ...

        @property
        def updated_at(self) -> datetime | None: ...

        @property
        def error(self) -> Exception | None: ...

    else:
        # Read-only views of the slots, read by C getters (no Python frame per access).
        id = property(attrgetter("_id"), doc="The app's record ID; empty means create.")
        updated_at = property(attrgetter("_updated_at"), doc="When the app last changed it.")
        error = property(attrgetter("_error"), doc="A per-record read failure, or None.")

    @property
    def is_create(self) -> bool:
        """True when the record is to be created (its ``id`` is empty)."""
        return not self._id

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return (
            self._id == other._id
            and self.attributes == other.attributes
            and self._updated_at == other._updated_at
            and self._error == other._error
        )

    def __repr__(self) -> str:
        # Attribute names only: values may be personal data and reprs end up in logs.
        return f"Record(id={self._id!r}, attributes=<{', '.join(self.attributes)}>)"


class IteratorMisuse(RuntimeError):
    """A connector used a ``Records`` or ``Events`` value against its contract.

    The message says what was done and what to do instead. It is a bug in the
    connector, never a property of the data: it is raised at once, in the call.
    """


_IN_ORDER = (None, "all()", "take()")
"""Shapes that read from the start, in order: every position before the cursor was read."""


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What happened to every item of one call, as reported by ``close()``.

    Each pending item appears in exactly one list:

    * ``succeeded`` — consumed and not failed, in the order they were yielded;
    * ``failed`` — ``(item, error)``: named by a ``RecordsError``/``EventsError``,
      or every consumed item when the call raised any other exception;
    * ``discarded`` — ``(item, error)`` given to ``discard()``; never retried;
    * ``remaining`` — not consumed (postponed, or never yielded), in their
      original relative order, to be handed to the next call ahead of newer items.

    ``error`` is the exception the call raised, if any. ``violation`` describes a
    breach of the contract the engine must report (a call that read nothing, an
    error index outside the consumed items, a misuse of the iterator); None when
    the call kept the contract.
    """

    succeeded: list[T]
    failed: list[tuple[T, BaseException]]
    discarded: list[tuple[T, Exception]]
    remaining: list[T]
    error: BaseException | None = None
    violation: str | None = None


class ConsumableItems(ABC, Generic[T]):
    """The shared machinery of :class:`Records` and ``Events``.

    Subclasses name their items and their call, say which grouping their
    ``same``-like shape applies and how an item's modifiable part is snapshotted.
    State per call is one ``bytearray`` of item states and the discards; per
    yielded item the only allocation is the snapshot used to detect
    modification on ``postpone()``.

    Items are yielded in position order, so the consumed items, in yield
    order, are the consumed positions in ascending order: no list of them is
    kept. Under ``all()`` every position before the cursor was yielded, so the
    loop does not mark each one: a position before the cursor still marked
    pending counts as consumed (see :meth:`_settled`), and a call that neither
    postponed nor discarded anything is closed with two slices.
    """

    __slots__ = (
        "_closed",
        "_current",
        "_cursor",
        "_discarded",
        "_items",
        "_shape",
        "_snapshot",
        "_state",
    )

    # Words used in messages: set by each subclass.
    _noun: ClassVar[str] = "item"
    _nouns: ClassVar[str] = "items"
    _kind: ClassVar[str] = "Items"
    _call: ClassVar[str] = "the call"
    _group_shape: ClassVar[str] = "same()"
    _modifiable: ClassVar[str] = "values"
    _snapshot_attribute: ClassVar[str | None] = None
    """When set, the snapshot is a shallow copy of this attribute (a dict) of
    the item, taken by C calls instead of :meth:`_snapshot_of`."""
    _indexed_error: ClassVar[type[RecordsError] | type[EventsError]]

    def __init__(self, items: Sequence[T]) -> None:
        """Open one call over ``items``, the engine's pending items in order.

        ``items`` must not be empty: the engine calls the connector only when
        there is something to send, and must not change the sequence until
        :meth:`close`. Identity is kept: the outcome lists hold the very objects
        given here. ``close()`` walks the positions up to the last one yielded and
        copies the rest with one slice, so pass a window of the queue (a few
        batches), not the whole backlog.
        """
        if not items:
            raise ValueError(f"{self._kind} needs at least one {self._noun}")
        self._items: Sequence[T] = items
        self._state = bytearray(len(items))
        self._discarded: list[tuple[int, Exception]] = []
        self._cursor = 0
        self._current = -1
        self._shape: str | None = None
        self._snapshot: object = None
        self._closed = False

    # Hooks for subclasses.

    @abstractmethod
    def _grouper(self, first: T) -> Callable[[T], bool]:
        """A predicate: does an item belong to the group of ``first``?"""

    @abstractmethod
    def _snapshot_of(self, item: T) -> object:
        """What ``postpone()`` compares to detect a modification of ``item``."""

    @abstractmethod
    def _modified(self, item: T, snapshot: object) -> bool:
        """Whether ``item`` changed since ``snapshot`` was taken at its yield."""

    # Checks shared by every method.

    def _check_open(self, method: str) -> None:
        if self._closed:
            raise IteratorMisuse(
                f"{self._kind}.{method} was called after the {self._call} call ended: "
                f"read {self._nouns} only inside the call that received them; the "
                f"engine hands {self._nouns} not read to the next call"
            )
        if self._shape == "first()":
            raise IteratorMisuse(
                f"{self._kind}.{method} was called after {self._kind}.first(): after "
                f"first() nothing else may be used in this call; to read several "
                f"{self._nouns}, use all() or {self._group_shape} instead of first()"
            )

    def _begin(self, shape: str) -> None:
        self._check_open(shape)
        if self._shape is not None:
            again = " again" if self._shape == shape else f" after {self._kind}.{self._shape}"
            raise IteratorMisuse(
                f"{self._kind}.{shape} was called{again} in the same {self._call} call: "
                f"use exactly one of all(), take(), {self._group_shape} or first() per call; "
                f"the {self._nouns} not read are handed to the next call"
            )
        self._shape = shape

    # Connector API.

    def all(self) -> Iterator[T]:
        """Yield every pending item in order; each is consumed once yielded.

        Breaking out of the loop leaves the rest for the next call. Only one of
        ``all()``, the grouping shape and ``first()`` may be used per call.
        """
        self._begin("all()")
        return self._iterate(None)

    def take(self, limit: int | None = None) -> list[T]:
        """Consume the first ``limit`` pending items (all of them when None) at once.

        The same as reading them with ``all()`` and breaking out of the loop
        after the last one — the rest is left for the next call — for a call
        that writes what it reads and never postpones nor discards: no item
        is current afterwards, so ``postpone()`` and ``discard()`` refuse, and
        nothing else may be read in this call. Cheaper than the loop: no
        per-item bookkeeping.
        """
        if limit is not None and (type(limit) is not int or limit < 1):
            raise ValueError(f"{self._kind}.take(limit): limit must be None or an int >= 1")
        self._begin("take()")
        items = self._items
        end = len(items) if limit is None else min(len(items), limit)
        self._cursor = end
        return list(items[:end])

    def _same_group(self, shape: str) -> Iterator[T]:
        self._begin(shape)
        return self._iterate(self._grouper(self._items[0]))

    def first(self) -> T:
        """Consume and return the first item; nothing else may be used afterwards.

        The item cannot be postponed or discarded: if it cannot be sent, raise an
        error from the call (it then fails with that error).
        """
        self._begin("first()")
        self._state[0] = _CONSUMED
        self._cursor = 1
        return self._items[0]

    def peek(self) -> T | None:
        """Return the next item the current shape would yield, without consuming it.

        Before any shape it is the first item; during or after a loop over
        ``all()`` it is the next pending item, and for the grouping shape the next
        pending item of the group. None when no such item is left. Allowed
        before and during iteration, not after ``first()``. The item must not be
        modified.
        """
        self._check_open("peek()")
        items = self._items
        group = self._grouper(items[0]) if self._shape not in _IN_ORDER else None
        # Positions at or after the cursor are all pending (see _iterate).
        for i in range(self._cursor, len(items)):
            if group is None or group(items[i]):
                return items[i]
        return None

    def postpone(self) -> None:
        """Un-consume the current item: it is handed again to a later call.

        Allowed during (or right after breaking out of) a loop over ``all()`` or
        the grouping shape, for the item last yielded. Raises
        :class:`IteratorMisuse` when no item is current, when the current item is
        the first of the call (which must be consumed or discarded so every call
        makes progress), when it was already postponed or discarded, or when its
        modifiable part was changed since it was yielded (see the subclass).
        """
        i = self._current_position("postpone()")
        if i == 0:
            raise IteratorMisuse(
                f"{self._kind}.postpone() was called on the first {self._noun} of the "
                f"{self._call} call: the first {self._noun} must be consumed or "
                f"discarded so every call makes progress; if it cannot be sent, "
                f"discard it with an error or raise an error from {self._call}"
            )
        if self._modified(self._items[i], self._snapshot):
            raise IteratorMisuse(
                f"{self._kind}.postpone() was called on a {self._noun} whose "
                f"{self._modifiable} were modified after it was yielded: postpone "
                f"before modifying, or keep the {self._noun} in this call"
            )
        self._state[i] = _POSTPONED

    def discard(self, error: Exception) -> None:
        """Drop the current item for good, reporting ``error`` for it.

        Use it for local, pre-send failures (a value the app would reject). The
        item is never retried and is left out of ``RecordsError``/``EventsError``
        indexes. Raises :class:`IteratorMisuse` when ``error`` is not an exception
        instance, when no item is current or when it was already postponed or
        discarded.
        """
        if not isinstance(error, Exception):
            shown = "None" if error is None else type(error).__name__
            raise IteratorMisuse(
                f"{self._kind}.discard() needs an exception instance explaining why the "
                f"{self._noun} is dropped, got {shown}: pass e.g. "
                f'PermanentError("invalid email address")'
            )
        i = self._current_position("discard()")
        self._state[i] = _DISCARDED
        self._discarded.append((i, error))

    # Internals of the connector API.

    def _current_position(self, method: str) -> int:
        self._check_open(method)
        i = self._current
        if i < 0:
            raise IteratorMisuse(
                f"{self._kind}.{method} was called with no current {self._noun}: call it "
                f"inside a loop over all() or {self._group_shape}, right after the "
                f"{self._noun} it applies to was yielded"
            )
        state = self._state[i]
        # A current item is consumed unless it was postponed or discarded
        # (under all() its state stays pending until close: see _settled).
        if state in (_POSTPONED, _DISCARDED):
            done = "postponed" if state == _POSTPONED else "discarded"
            raise IteratorMisuse(
                f"{self._kind}.{method} was called on a {self._noun} already {done}: "
                f"postpone or discard each {self._noun} at most once"
            )
        return i

    def _iterate(self, group: Callable[[T], bool] | None) -> Iterator[T]:
        if group is None:
            return self._iterate_all()
        return self._iterate_group(group)

    def _iterate_all(self) -> Iterator[T]:
        # The loop of all(), the engine's hot path: per item, the closed check,
        # the cursor, the current position and the snapshot — no state mark
        # (a pending position before the cursor is a consumed one).
        items = self._items
        n = len(items)
        name = self._snapshot_attribute
        snapshot_of = self._snapshot_of
        get = attrgetter(name) if name is not None else None
        copy = dict.copy
        i = self._cursor
        while True:
            if self._closed:
                self._current = -1
                raise IteratorMisuse(
                    f"a loop over {self._kind}.{self._shape} was resumed after the "
                    f"{self._call} call ended: finish reading inside the call"
                )
            if i >= n:
                # Advancing ends the previous item's turn: it can no longer be
                # postponed or discarded.
                self._current = -1
                return
            item = items[i]
            self._current = i
            i += 1
            self._cursor = i
            self._snapshot = copy(get(item)) if get is not None else snapshot_of(item)
            yield item

    def _iterate_group(self, group: Callable[[T], bool]) -> Iterator[T]:
        items = self._items
        state = self._state
        snapshot_of = self._snapshot_of
        n = len(items)
        while True:
            # Advancing ends the previous item's turn: it can no longer be
            # postponed or discarded.
            self._current = -1
            if self._closed:
                raise IteratorMisuse(
                    f"a loop over {self._kind}.{self._shape} was resumed after the "
                    f"{self._call} call ended: finish reading inside the call"
                )
            # Every position at or after the cursor is pending; the
            # non-matching ones before it stay pending for a later call.
            i = self._cursor
            while i < n and not group(items[i]):
                i += 1
            if i >= n:
                return
            item = items[i]
            state[i] = _CONSUMED
            self._cursor = i + 1
            self._current = i
            self._snapshot = snapshot_of(item)
            yield item

    def _settled(self) -> bytearray:
        """The item states with every position ``all()`` yielded marked consumed.

        Under ``all()`` the loop leaves yielded positions pending (only
        postponed and discarded ones are marked), so before the cursor a
        pending position is a consumed one.
        """
        state = self._state
        if self._shape not in _IN_ORDER:
            return state
        hi = self._cursor
        settled = bytearray(state)
        settled[:hi] = state[:hi].replace(bytes([_PENDING]), bytes([_CONSUMED]))
        return settled

    # Engine API.

    def close(self, error: BaseException | None = None) -> Outcome[T]:
        """End the call and report every item's fate; the value is unusable after.

        ``error`` is what the connector's call raised (None if it returned). A
        ``RecordsError``/``EventsError`` (the subclass's kind) fails the consumed
        items it names, by index in yield order; an index outside the consumed
        items is a contract violation and fails every consumed item with a
        ``PermanentError`` whose cause is the connector's error. Any other
        exception fails every consumed item with it. A call that returned without
        consuming or discarding anything is a violation too (the engine must not
        call again with the same items and expect progress).
        """
        if self._closed:
            raise IteratorMisuse(f"{self._kind}.close() was called twice for one call")
        self._closed = True
        self._current = -1
        items = self._items
        hi = self._cursor
        discarded = [(items[i], e) for i, e in self._discarded]
        state = self._state
        if self._shape in _IN_ORDER and _POSTPONED not in state and _DISCARDED not in state:
            # The common case: the first ``hi`` items were read, the rest not.
            consumed = list(items[:hi])
            remaining = list(items[hi:])
        else:
            state = self._settled()
            consumed = [items[i] for i in range(hi) if state[i] == _CONSUMED]
            remaining = [items[i] for i in range(hi) if state[i] in (_PENDING, _POSTPONED)]
            remaining.extend(items[hi:])
        succeeded: list[T] = consumed
        failed: list[tuple[T, BaseException]] = []
        violation: str | None = None
        if error is None:
            if not consumed and not discarded:
                violation = (
                    f"{self._call} returned without consuming or discarding any "
                    f"{self._noun}: read at least the first {self._noun} "
                    f"(all(), {self._group_shape} or first()) in every call"
                )
        elif isinstance(error, self._indexed_error):
            errors = error.errors
            outside = sorted(i for i in errors if i >= len(consumed))
            if outside:
                violation = (
                    f"{self._call} raised {type(error).__name__} with index "
                    f"{', '.join(map(str, outside[:5]))} but the call consumed "
                    f"{len(consumed)} {self._nouns} (indexes count consumed "
                    f"{self._nouns} in yield order, leaving out postponed and "
                    f"discarded ones): every consumed {self._noun} is failed"
                )
                bad = PermanentError(CONTRACT_VIOLATION)
                bad.__cause__ = error
                failed = [(item, bad) for item in consumed]
                succeeded = []
            else:
                failed = [(consumed[i], errors[i]) for i in sorted(errors)]
                succeeded = [item for i, item in enumerate(consumed) if i not in errors]
        else:
            failed = [(item, error) for item in consumed]
            succeeded = []
            if isinstance(error, IteratorMisuse):
                violation = f"{self._call} misused {self._kind}: {error}"
        return Outcome(succeeded, failed, discarded, remaining, error, violation)

    def _read_back(self) -> tuple[list[T], list[T], list[T]]:
        """Consumed, postponed and never-yielded items so far, each in order.

        For test reports, which tell postponed items from unread ones; the
        engine needs only :meth:`close`.
        """
        items = self._items
        state = self._settled()
        consumed = [items[i] for i in range(len(items)) if state[i] == _CONSUMED]
        postponed = [items[i] for i in range(len(items)) if state[i] == _POSTPONED]
        unread = [items[i] for i in range(len(items)) if state[i] == _PENDING]
        return consumed, postponed, unread

    def __repr__(self) -> str:
        return f"<{self._kind}: {len(self._items)} {self._nouns}>"


def _same_operation(first: Record) -> Callable[[Record], bool]:
    if first.id:
        return lambda record: bool(record.id)
    return lambda record: not record.id


class Records(ConsumableItems[Record]):
    """The records one ``upsert`` call may write, as a consumable iterator.

    ``same()`` yields only records with the same operation as the first record
    (create when its ``id`` is empty, update otherwise) and skips the others
    without consuming them, for apps with separate create and update endpoints.

    A record's ``attributes`` may be modified once yielded, but then it cannot be
    postponed. Detection: at yield a shallow copy of ``attributes`` is kept and
    compared with ``==`` on ``postpone()``, so adding, removing or replacing a
    key's value with an unequal one is detected; changing a nested list or dict
    in place is not (and is not allowed either).
    """

    __slots__ = ()

    _noun = "record"
    _nouns = "records"
    _kind = "Records"
    _call = "upsert"
    _group_shape = "same()"
    _indexed_error = RecordsError
    _modifiable = "attributes"
    _snapshot_attribute = "attributes"

    def same(self) -> Iterator[Record]:
        """Yield the pending records with the same operation as the first, in order.

        Each is consumed once yielded; records of the other operation stay for
        a later call. Only one of ``all()``, ``same()`` and ``first()`` per call.
        """
        return self._same_group("same()")

    def _grouper(self, first: Record) -> Callable[[Record], bool]:
        return _same_operation(first)

    def _snapshot_of(self, item: Record) -> object:
        return item.attributes.copy()

    def _modified(self, item: Record, snapshot: object) -> bool:
        return item.attributes != snapshot
