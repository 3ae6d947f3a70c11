"""Normalization against the documented rules, written here plainly (copies, datetime only).

``normalize`` changes the body's dicts in place and takes a fast path for
times; whatever it does, each stored row and each rejection must be what the
rules in its module docs give.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from syncline.collect.normalize import normalize
from syncline.collect.timestamps import TimeCorrector

TYPES = ("track", "identify", "page", "screen", "group", "alias")
STRING_FIELDS = ("event", "name", "category", "channel", "groupId", "previousId")
OBJECT_FIELDS = ("properties", "traits", "context", "integrations")


class Rejected(Exception):
    def __init__(self, reason: str, field: str | None = None) -> None:
        self.reason = reason
        self.field = field


def parse(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise Rejected("invalid_timestamp", field)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected("invalid_timestamp", field) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def written(value: datetime) -> str:
    try:
        return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    except (OverflowError, ValueError):
        raise Rejected("invalid_timestamp", "timestamp") from None


def identifier(message: dict[str, Any], key: str) -> str | None:
    value = message.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise Rejected("invalid_field", key)


def reference_message(
    item: dict[str, Any], kind: Any, body: dict[str, Any], batch: bool, at: datetime
) -> dict[str, Any]:
    if kind is None:
        raise Rejected("missing_type")
    if not isinstance(kind, str) or kind not in TYPES:
        raise Rejected("unknown_type")
    ids = [identifier(item, "anonymousId"), identifier(item, "userId")]
    if ids == [None, None]:
        raise Rejected("missing_id")
    for key in ("messageId", *STRING_FIELDS):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise Rejected("invalid_field", key)
    for key in OBJECT_FIELDS:
        if item.get(key) is not None and not isinstance(item[key], dict):
            raise Rejected("invalid_field", key)
    message = copy.deepcopy(item)
    message.pop("writeKey", None)
    message["type"] = kind
    for key in ("context", "integrations") if batch else ():
        outer = body.get(key)
        if isinstance(outer, dict) and outer:
            message[key] = {**outer, **(message.get(key) or {})}
    if not message.get("messageId"):
        message["messageId"] = "<generated>"
    sent_text = item.get("sentAt")
    if sent_text is None and batch:
        sent_text = body.get("sentAt")
    original_text = item.get("timestamp")
    if original_text is None:
        original_text = item.get("originalTimestamp")
    sent = None if sent_text is None else parse(sent_text, "sentAt")
    original = None if original_text is None else parse(original_text, "timestamp")
    message["receivedAt"] = written(at)
    if sent is not None:
        message["sentAt"] = sent_text
    if original is None:
        message["timestamp"] = written(at)
    else:
        message["originalTimestamp"] = original_text
        if sent is None:
            message["timestamp"] = written(original)
        else:
            try:
                corrected = at - (sent - original)
            except OverflowError:
                raise Rejected("invalid_timestamp", "timestamp") from None
            message["timestamp"] = written(corrected)
    return message


def reference(
    body: dict[str, Any], path_type: str | None, at: datetime
) -> tuple[list[dict[str, Any]], list[tuple[int, str | None, str, str | None]]]:
    items = body["batch"] if path_type is None else [body]
    kept: list[dict[str, Any]] = []
    rejections: list[tuple[int, str | None, str, str | None]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            rejections.append((index, None, "not_an_object", None))
            continue
        kind = path_type or item.get("type")
        try:
            kept.append(reference_message(item, kind, body, path_type is None, at))
        except Rejected as rejected:
            shown = kind if isinstance(kind, str) and kind in TYPES else None
            rejections.append((index, shown, rejected.reason, rejected.field))
    return kept, rejections


near = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1))
times = st.one_of(
    st.none(),
    st.builds(lambda at: at.isoformat(timespec="milliseconds") + "Z", near),
    st.builds(lambda at: at.replace(tzinfo=timezone(timedelta(hours=5))).isoformat(), near),
    st.sampled_from(["2026-01-01", "9999-12-31T23:59:59.999Z", "never", "2026-02-30T00:00:00Z"]),
    st.integers(-5, 5),
)
# What orjson.loads, the collector's parser, can hand over: it reads an integer
# beyond 64 bits as a float, so no parsed body holds a larger int.
json_integers = st.integers(-(2**63), 2**64 - 1)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.text(max_size=6),
    st.lists(json_integers, max_size=2),
    st.dictionaries(st.sampled_from(["a", "b", "library"]), json_integers, max_size=2),
)


@st.composite
def messages(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 12)) == 0:
        return draw(values)
    item: dict[str, Any] = {"type": draw(st.sampled_from([*TYPES, "purchase"]))}
    if draw(st.booleans()):
        item["userId"] = draw(st.one_of(st.text(max_size=5), st.integers(0, 99), values))
    if draw(st.integers(0, 3)) > 0:
        item["anonymousId"] = draw(st.one_of(st.text(min_size=1, max_size=5), values))
    if draw(st.integers(0, 3)) > 0:
        item["messageId"] = draw(st.one_of(st.just(str(uuid.uuid4())), st.just(""), values))
    for key in ("timestamp", "originalTimestamp", "sentAt"):
        if draw(st.integers(0, 2)) == 0:
            item[key] = draw(times)
    if draw(st.booleans()):
        # Overlapping the batch-level context's keys: the message's own must win.
        item["context"] = draw(st.dictionaries(st.sampled_from(["a", "ip"]), st.integers(0, 3)))
    for key in draw(st.lists(st.sampled_from([*STRING_FIELDS, *OBJECT_FIELDS]), max_size=4)):
        if key in OBJECT_FIELDS and draw(st.integers(0, 3)) > 0:
            item[key] = draw(st.dictionaries(st.sampled_from(["a", "b", "ip"]), values))
        else:
            item[key] = draw(st.one_of(st.text(max_size=5), values))
    if draw(st.integers(0, 5)) == 0:
        item["writeKey"] = "key-0123456789abcdef"
    return item


@st.composite
def bodies(draw: st.DrawFn) -> tuple[dict[str, Any], str | None]:
    path_type = draw(st.sampled_from([None, None, "track", "identify"]))
    if path_type is not None:
        item = draw(messages())
        return (item if isinstance(item, dict) else {"userId": "u"}), path_type
    body: dict[str, Any] = {"batch": draw(st.lists(messages(), max_size=6))}
    for key in ("context", "integrations"):
        if draw(st.integers(0, 3)) > 0:
            body[key] = draw(
                st.dictionaries(st.sampled_from(["a", "library"]), st.integers(4, 6))
                if draw(st.integers(0, 3)) > 0
                else values
            )
    if draw(st.booleans()):
        body["sentAt"] = draw(times)
    return body, None


received = st.builds(
    lambda at, hours: at.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=hours))),
    near,
    st.sampled_from([0, 0, 3, -7]),
)
MINUTES = TimeCorrector.minutes_cache()


@settings(max_examples=400, deadline=None)
@given(bodies(), received)
def test_rows_and_rejections_follow_the_rules(
    request: tuple[dict[str, Any], str | None], at: datetime
) -> None:
    body, path_type = request
    expected_messages, expected_rejections = reference(copy.deepcopy(body), path_type, at)
    result = normalize(body, path_type, at, 7, minutes=MINUTES)
    assert [(r.index, r.type, r.reason, r.field) for r in result.rejections] == expected_rejections
    assert len(result.rows) == len(expected_messages)
    for row, expected in zip(result.rows, expected_messages, strict=True):
        stored = orjson.loads(row.payload)
        if expected["messageId"] == "<generated>":
            assert str(uuid.UUID(stored["messageId"])) == stored["messageId"]
            expected["messageId"] = stored["messageId"]
        # Same keys in the same order, same values: the stored bytes are the same.
        assert list(stored) == list(expected)
        assert row.payload == orjson.dumps(expected)
        assert row.source_id == 7
        assert row.message_id == stored["messageId"]
        assert row.type == stored["type"]
        assert row.received_at == at
        assert row.anonymous_id == identifier(stored, "anonymousId")
        assert row.user_id == identifier(stored, "userId")
