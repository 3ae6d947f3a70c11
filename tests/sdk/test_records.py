"""The consumable Records iterator: shapes, postpone/discard, misuse, outcomes.

The model-based test at the end drives both ``Records`` and ``Events`` (they share
``ConsumableItems``) through random connector behaviour, call after call, and
checks every item against an independent model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncline.sdk.errors import EventsError, PermanentError, RecordsError, RetryableError
from syncline.sdk.events import Event, Events, EventTypeInfo
from syncline.sdk.received import ReceivedEvent
from syncline.sdk.records import (
    CONTRACT_VIOLATION,
    ConsumableItems,
    IteratorMisuse,
    Outcome,
    Record,
    Records,
)


def make(*ids: str) -> list[Record]:
    """Records tagged by position in attributes["n"]; ids "" are creates."""
    return [Record(record_id, {"n": n}) for n, record_id in enumerate(ids)]


def tags(items: list[Record]) -> list[int]:
    return [r.attributes["n"] for r in items]


def assert_partition(items: list[Any], outcome: Outcome[Any]) -> None:
    ends = (
        outcome.succeeded
        + [i for i, _ in outcome.failed]
        + [i for i, _ in outcome.discarded]
        + outcome.remaining
    )
    assert sorted(map(id, ends)) == sorted(map(id, items))


# Values.


def test_record_is_create_and_repr_hides_values() -> None:
    create = Record("", {"email": "someone@example.com"})
    update = Record("42", {"email": "someone@example.com"})
    assert create.is_create and not update.is_create
    assert "example.com" not in repr(update)
    assert "email" in repr(update) and "42" in repr(update)
    with pytest.raises(AttributeError):
        update.id = "43"  # type: ignore[misc]


def test_record_fields_are_read_only_but_attributes_and_compare_by_value() -> None:
    when = datetime(2025, 1, 2, tzinfo=UTC)
    record = Record("42", {"n": "1"}, when)
    for field in ("updated_at", "error"):
        with pytest.raises(AttributeError):
            setattr(record, field, None)
    assert record == Record("42", {"n": "1"}, when)
    assert record != Record("42", {"n": "1"}) and record != Record("43", {"n": "1"}, when)
    assert record != ("42", {"n": "1"}, when, None)
    with pytest.raises(TypeError):
        hash(record)
    # The engine replaces a read record's attributes with the validated values.
    record.attributes = {"n": 1}
    assert (record.id, record.attributes, record.updated_at, record.error) == (
        "42",
        {"n": 1},
        when,
        None,
    )
    match record:
        case Record(record_id, attributes, updated_at, None):
            assert (record_id, attributes, updated_at) == ("42", {"n": 1}, when)
        case _:
            raise AssertionError("a Record matches by position")


# Shapes.


def test_all_consumes_everything_in_order() -> None:
    items = make("", "1", "", "2")
    records = Records(items)
    assert [r for r in records.all()] == items
    outcome = records.close()
    assert outcome.succeeded == items
    assert outcome.failed == [] and outcome.discarded == [] and outcome.remaining == []
    assert outcome.violation is None and outcome.error is None


def test_break_leaves_the_rest_for_the_next_call() -> None:
    items = make("1", "2", "3", "4")
    records = Records(items)
    for record in records.all():
        if record.attributes["n"] == 1:
            break
    outcome = records.close()
    assert tags(outcome.succeeded) == [0, 1]
    assert tags(outcome.remaining) == [2, 3]


@pytest.mark.parametrize(("limit", "taken"), [(None, 4), (2, 2), (9, 4)])
def test_take_consumes_the_first_records_at_once(limit: int | None, taken: int) -> None:
    items = make("1", "", "3", "4")
    records = Records(items)
    assert records.take(limit) == items[:taken]
    assert records.peek() == (items[taken] if taken < 4 else None)
    with pytest.raises(IteratorMisuse, match="no current record"):
        records.postpone()
    with pytest.raises(IteratorMisuse, match=r"called after Records\.take"):
        records.all()
    outcome = records.close(RecordsError({1: PermanentError("bad")}))
    assert tags(outcome.succeeded) == [i for i in range(taken) if i != 1]
    assert tags([item for item, _ in outcome.failed]) == [1]
    assert tags(outcome.remaining) == list(range(taken, 4))


def test_take_refuses_a_limit_that_is_not_a_positive_int() -> None:
    for limit in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="limit must be None or an int >= 1"):
            Records(make("1")).take(limit)  # type: ignore[arg-type]


def test_same_yields_only_the_first_operation_and_skips_without_consuming() -> None:
    items = make("", "1", "", "2", "")
    records = Records(items)
    assert tags(list(records.same())) == [0, 2, 4]
    outcome = records.close()
    assert tags(outcome.remaining) == [1, 3]
    # The next call starts with an update, so same() now yields updates.
    records = Records(outcome.remaining)
    assert tags(list(records.same())) == [1, 3]
    assert records.close().remaining == []


def test_first_returns_one_record() -> None:
    items = make("1", "", "2")
    records = Records(items)
    assert records.first() is items[0]
    outcome = records.close()
    assert outcome.succeeded == [items[0]]
    assert outcome.remaining == items[1:]


def test_peek_before_during_and_after() -> None:
    items = make("", "1", "")
    records = Records(items)
    assert records.peek() is items[0]
    assert records.peek() is items[0]  # peeking does not consume
    seen = []
    for record in records.same():
        seen.append(record)
        peeked = records.peek()
        assert peeked is (items[2] if record is items[0] else None)
    assert seen == [items[0], items[2]]
    assert records.peek() is None
    assert tags(records.close().remaining) == [1]


def test_postpone_returns_records_ahead_of_later_ones() -> None:
    items = make("1", "2", "3", "4", "5")
    records = Records(items)
    for record in records.all():
        if record.attributes["n"] == 2:
            records.postpone()
        if record.attributes["n"] == 3:
            records.postpone()
            break
    outcome = records.close()
    assert tags(outcome.succeeded) == [0, 1]
    assert tags(outcome.remaining) == [2, 3, 4]


def test_discard_reports_the_error_and_never_retries() -> None:
    items = make("1", "2", "3")
    bad = PermanentError("invalid email address")
    records = Records(items)
    for record in records.all():
        if record.attributes["n"] == 1:
            records.discard(bad)
    outcome = records.close()
    assert outcome.discarded == [(items[1], bad)]
    assert tags(outcome.succeeded) == [0, 2]
    assert outcome.remaining == []


def test_the_first_record_may_be_discarded_then_the_second_postponed() -> None:
    items = make("1", "2", "3")
    records = Records(items)
    iterator = records.all()
    next(iterator)
    records.discard(PermanentError("bad"))
    next(iterator)
    records.postpone()
    outcome = records.close()
    assert outcome.succeeded == [] and tags(outcome.remaining) == [1, 2]
    assert outcome.violation is None  # the discard was progress


def test_postpone_after_breaking_out_applies_to_the_last_record() -> None:
    items = make("1", "2", "3")
    records = Records(items)
    for record in records.all():
        if record is items[1]:
            break
    records.postpone()
    assert tags(records.close().remaining) == [1, 2]


# Outcomes.


def test_records_error_indexes_skip_discarded_and_postponed() -> None:
    items = make("1", "2", "3", "4", "5", "6")
    records = Records(items)
    for record in records.all():
        n = record.attributes["n"]
        if n == 1:
            records.discard(PermanentError("local"))
        elif n == 3:
            records.postpone()
    # Consumed in yield order: 0, 2, 4, 5 -> indexes 0..3.
    e1, e3 = PermanentError("rejected"), RetryableError("busy")
    outcome = records.close(RecordsError({1: e1, 3: e3}))
    assert [(r.attributes["n"], e) for r, e in outcome.failed] == [(2, e1), (5, e3)]
    assert tags(outcome.succeeded) == [0, 4]
    assert tags(outcome.remaining) == [3]
    assert outcome.violation is None
    assert_partition(items, outcome)


def test_records_error_index_out_of_range_fails_every_consumed_record() -> None:
    items = make("1", "2", "3")
    records = Records(items)
    for record in records.all():
        if record is items[1]:
            records.discard(PermanentError("local"))
    error = RecordsError({2: PermanentError("rejected")})  # only 2 consumed: 0 and 1
    outcome = records.close(error)
    assert outcome.succeeded == []
    assert [r for r, _ in outcome.failed] == [items[0], items[2]]
    for _, failure in outcome.failed:
        assert isinstance(failure, PermanentError)
        assert str(failure) == CONTRACT_VIOLATION
        assert failure.__cause__ is error
    assert outcome.violation is not None
    assert "index 2" in outcome.violation and "consumed 2 records" in outcome.violation
    assert_partition(items, outcome)


def test_any_other_exception_fails_every_consumed_record() -> None:
    items = make("1", "2", "3")
    records = Records(items)
    for record in records.all():
        if record is items[1]:
            break
    error = RetryableError("service unavailable", status=503)
    outcome = records.close(error)
    assert outcome.failed == [(items[0], error), (items[1], error)]
    assert outcome.remaining == [items[2]]
    assert outcome.error is error and outcome.violation is None


def test_events_error_from_upsert_is_treated_as_a_plain_exception() -> None:
    items = make("1", "2")
    records = Records(items)
    list(records.all())
    error = EventsError({0: PermanentError("x")})
    outcome = records.close(error)
    assert outcome.failed == [(items[0], error), (items[1], error)]


def test_returning_without_reading_is_a_violation() -> None:
    items = make("1", "2")
    records = Records(items)
    assert records.peek() is items[0]
    outcome = records.close()
    assert outcome.remaining == items
    assert outcome.violation is not None and "without consuming" in outcome.violation


def test_raising_before_reading_is_not_a_violation() -> None:
    items = make("1")
    records = Records(items)
    error = RetryableError("network down")
    outcome = records.close(error)
    assert outcome.remaining == items and outcome.failed == []
    assert outcome.error is error and outcome.violation is None


def test_empty_call_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one record"):
        Records([])


# Misuse: every wrong move raises IteratorMisuse with a message that says what to do.


def misuse(action: Callable[[], object], *words: str) -> None:
    with pytest.raises(IteratorMisuse) as caught:
        action()
    for word in words:
        assert word in str(caught.value)


def test_two_shapes_in_one_call() -> None:
    records = Records(make("1", "2"))
    list(records.all())
    misuse(records.same, "same() was called after Records.all()", "exactly one of")
    misuse(records.all, "again", "exactly one of")
    misuse(records.first, "exactly one of")


def test_nothing_but_close_after_first() -> None:
    records = Records(make("1", "2"))
    records.first()
    for action in (records.all, records.same, records.first, records.peek, records.postpone):
        misuse(action, "after Records.first()")
    misuse(lambda: records.discard(PermanentError("x")), "after Records.first()")


def test_postponing_the_first_record() -> None:
    records = Records(make("1", "2"))
    iterator = records.same()
    next(iterator)
    misuse(records.postpone, "first record", "discard it with an error or raise")
    # The record stays consumed and the call can go on.
    assert [r.attributes["n"] for r in iterator] == [1]
    assert tags(records.close().succeeded) == [0, 1]


@pytest.mark.parametrize(
    "change",
    [
        lambda a: a.__setitem__("email", "x"),
        lambda a: a.__setitem__("n", -1),
        lambda a: a.pop("n"),
        lambda a: a.clear(),
    ],
    ids=["add", "replace", "remove", "clear"],
)
def test_postponing_a_modified_record(change: Callable[[dict[str, Any]], object]) -> None:
    items = make("1", "2")
    records = Records(items)
    for record in records.all():
        if record is items[1]:
            change(record.attributes)
            misuse(records.postpone, "attributes were modified", "postpone before modifying")
    outcome = records.close()
    assert len(outcome.succeeded) == 2 and outcome.remaining == []


def test_setting_an_equal_value_is_not_a_modification() -> None:
    records = Records(make("1", "2"))
    for record in records.all():
        record.attributes["n"] = record.attributes["n"] + 0
        if record.attributes["n"] == 1:
            records.postpone()
    assert tags(records.close().remaining) == [1]


def test_discard_needs_an_exception() -> None:
    records = Records(make("1", "2"))
    next(records.all())
    misuse(lambda: records.discard(None), "needs an exception instance", "got None")  # type: ignore[arg-type]
    misuse(lambda: records.discard("bad"), "got str")  # type: ignore[arg-type]
    misuse(lambda: records.discard(PermanentError), "got type")  # type: ignore[arg-type]


def test_postpone_and_discard_with_nothing_current() -> None:
    records = Records(make("1", "2"))
    misuse(records.postpone, "no current record", "inside a loop")
    misuse(lambda: records.discard(PermanentError("x")), "no current record")
    iterator = records.all()
    misuse(records.postpone, "no current record")  # the loop has not started
    list(iterator)  # exhausting the loop ends the last record's turn
    misuse(records.postpone, "no current record")


def test_postpone_or_discard_twice() -> None:
    records = Records(make("1", "2", "3"))
    iterator = records.all()
    next(iterator)
    next(iterator)
    records.postpone()
    misuse(records.postpone, "already postponed")
    misuse(lambda: records.discard(PermanentError("x")), "already postponed")
    next(iterator)
    records.discard(PermanentError("x"))
    misuse(lambda: records.discard(PermanentError("x")), "already discarded")
    misuse(records.postpone, "already discarded")


def test_use_after_close() -> None:
    records = Records(make("1", "2", "3"))
    iterator = records.all()
    next(iterator)
    records.close()
    misuse(lambda: next(iterator), "resumed after the upsert call ended")
    for action in (records.all, records.same, records.first, records.peek, records.postpone):
        misuse(action, "after the upsert call ended")
    misuse(lambda: records.discard(PermanentError("x")), "after the upsert call ended")
    misuse(records.close, "twice")


def test_a_misuse_raised_by_the_call_is_reported_as_a_violation() -> None:
    records = Records(make("1", "2"))
    list(records.all())
    try:
        records.first()
    except IteratorMisuse as error:
        outcome = records.close(error)
    assert outcome.violation is not None and "misused Records" in outcome.violation
    assert len(outcome.failed) == 2


# Model-based: random connectors, call after call, for Records and Events.

ACTIONS = ["keep", "postpone", "discard", "break", "postpone_break", "modify", "modify_postpone"]


def build_records(n: int, keys: list[int]) -> list[Any]:
    return [Record("" if keys[k] == 0 else f"u{k}", {"n": k}) for k in range(n)]


def build_events(n: int, keys: list[int]) -> list[Any]:
    return [
        Event(
            "p",
            ReceivedEvent.from_message(
                {"type": "track", "messageId": f"m{k}", "anonymousId": f"a{keys[k]}"}
            ),
            EventTypeInfo("t", None, {"n": k}),
        )
        for k in range(n)
    ]


KINDS: dict[str, tuple[Any, Callable[[int, list[int]], list[Any]], Callable[[Any], Any], str]] = {
    # kind: (class, builder, tag, grouping key)
    "records": (Records, build_records, lambda r: r.attributes["n"], "same"),
    "events": (Events, build_events, lambda e: e.type.values["n"], "same_user"),
}


def group_key(kind: str, item: Any) -> object:
    if kind == "records":
        return item.is_create
    return item.received.anonymous_id


def modifiable(kind: str, item: Any) -> dict[str, Any]:
    return item.attributes if kind == "records" else item.type.values  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", list(KINDS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_item_ends_exactly_once(kind: str, data: st.DataObject) -> None:
    cls, build, tag, group_shape = KINDS[kind]
    indexed = RecordsError if kind == "records" else EventsError
    n = data.draw(st.integers(1, 10), label="n")
    keys = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n), label="keys")
    items = build(n, keys)
    fates: dict[int, str] = {}
    pending = list(items)
    calls = 0
    while pending:
        calls += 1
        assert calls <= 4 * n + 8, "no progress"
        value: ConsumableItems[Any] = cls(pending)
        shape = data.draw(st.sampled_from(["all", "group", "first", "none"]), label="shape")
        if calls > 2 * n:
            shape = "all"  # keep the loop short; "none" never makes progress
        model_kept: list[Any] = []
        model_postponed: list[Any] = []
        model_discarded: list[tuple[Any, Exception]] = []
        if shape == "group":
            first_key = group_key(kind, pending[0])
            expected = [i for i in pending if group_key(kind, i) == first_key]
        else:
            expected = list(pending)
        assert value.peek() is pending[0]
        if shape == "first":
            assert value.first() is pending[0]
            model_kept.append(pending[0])
        elif shape in ("all", "group"):
            iterator = value.all() if shape == "all" else getattr(value, group_shape)()
            for position, item in enumerate(iterator):
                assert item is expected[position]
                action = data.draw(st.sampled_from(ACTIONS), label="action")
                if "postpone" in action and position == 0:
                    with pytest.raises(IteratorMisuse, match="first"):
                        value.postpone()
                    action = "keep"
                if action.startswith("modify"):
                    modifiable(kind, item)["touched"] = calls
                    if action == "modify_postpone":
                        with pytest.raises(IteratorMisuse, match="modified"):
                            value.postpone()
                if action in ("postpone", "postpone_break"):
                    value.postpone()
                    model_postponed.append(item)
                elif action == "discard":
                    error = PermanentError(f"discard {tag(item)}")
                    value.discard(error)
                    model_discarded.append((item, error))
                else:
                    model_kept.append(item)
                rest = expected[position + 1 :]
                assert value.peek() is (rest[0] if rest else None)
                if action in ("break", "postpone_break"):
                    break
        ending = data.draw(st.sampled_from(["return", "raise", "indexed", "bad_index"]))
        failures: dict[int, Exception] = {}
        raised: Exception | None = None
        if ending == "raise":
            raised = RetryableError("request failed")
        elif ending == "indexed" and model_kept:
            chosen = data.draw(
                st.sets(st.integers(0, len(model_kept) - 1), min_size=1), label="failed"
            )
            failures = {i: PermanentError(f"rejected {i}") for i in chosen}
            raised = indexed(failures)
        elif ending == "bad_index":
            raised = indexed({len(model_kept): PermanentError("off by one")})
        outcome = value.close(raised)
        assert_partition(pending, outcome)

        # Expected outcome from the model.
        gone = {id(i) for i in model_kept} | {id(i) for i, _ in model_discarded}
        assert outcome.remaining == [i for i in pending if id(i) not in gone]
        assert outcome.discarded == model_discarded
        if raised is None:
            assert outcome.succeeded == model_kept and outcome.failed == []
            assert (outcome.violation is not None) == (not model_kept and not model_discarded)
        elif ending == "raise":
            assert outcome.succeeded == [] and outcome.failed == [(i, raised) for i in model_kept]
        elif ending == "indexed":
            assert outcome.failed == [(model_kept[i], failures[i]) for i in sorted(failures)]
            assert outcome.succeeded == [k for i, k in enumerate(model_kept) if i not in failures]
        else:
            assert outcome.violation is not None
            assert [i for i, _ in outcome.failed] == model_kept and outcome.succeeded == []
        ended = [(i, "succeeded") for i in outcome.succeeded]
        ended += [(i, "failed") for i, _ in outcome.failed]
        ended += [(i, "discarded") for i, _ in outcome.discarded]
        for item, fate in ended:
            assert tag(item) not in fates, "an item ended twice"
            fates[tag(item)] = fate
        assert not set(map(tag, outcome.remaining)) & set(fates)
        pending = outcome.remaining
    assert sorted(fates) == list(range(n))
