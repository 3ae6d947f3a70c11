"""Clock-skew correction: the fast path gives exactly what the datetime rule gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncline.collect.timestamps import InvalidTime, TimeCorrector, corrected_time, format_time

MINUTES = TimeCorrector.minutes_cache()


def outcome(compute: Any) -> tuple[str, str]:
    try:
        return "ok", compute()
    except InvalidTime as invalid:
        return "invalid", invalid.field


offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
)
instants = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)
)
received = st.builds(
    lambda at, zone: at.replace(tzinfo=UTC).astimezone(zone),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    offsets,
)


def canonical(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds") + "Z"


near = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1))
times = st.one_of(
    st.none(),
    # The form clients send, over the whole range and near today.
    st.builds(canonical, instants),
    st.builds(canonical, near),
    st.sampled_from(
        [
            "0001-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
            "1969-12-31T23:59:59.999Z",
            "2024-02-29T12:00:00.000Z",
        ]
    ),
    # Other readable forms: offsets, precisions, separators, no zone, a date.
    st.builds(
        lambda at, zone, spec: at.replace(tzinfo=zone).isoformat(timespec=spec),
        near,
        offsets,
        st.sampled_from(["seconds", "milliseconds", "microseconds"]),
    ),
    st.builds(lambda at: canonical(at).replace("T", " "), near),
    st.builds(lambda at: at.isoformat(timespec="milliseconds"), near),
    st.builds(lambda at: at.date().isoformat(), near),
    # Almost the fast form, but not a time or not canonical.
    st.sampled_from(
        [
            "2026-02-30T12:00:00.000Z",
            "2026-01-01T24:00:00.000Z",
            "2026-01-01T12:60:00.000Z",
            "2026-01-01T12:00:60.000Z",
            "2026-01-01T12:00: 5.000Z",
            "2026-01-01T12:00:+5.000Z",
            "2026-01-01T12:00:0\u0665.000Z",
            "2026-01-01T12:00:00.\u0661\u0662\u0663Z",
            "2026-01-01T12:00:00,123Z",
            "2026-01-01T12:00:00.123z",
            "2026-01-01X12:00:00.123Z",
            "20260101T120000.123Z",
            "+2026-01-01T12:00:00.123",
        ]
    ),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=600, deadline=None)
@given(received, times, times)
def test_fast_path_gives_what_the_rule_gives(at: datetime, sent: Any, original: Any) -> None:
    corrector = TimeCorrector(at, MINUTES)
    expected = outcome(lambda: corrected_time(at, sent, original))
    assert outcome(lambda: corrector.corrected(sent, original)) == expected
    # Twice: the second call takes the remembered sentAt and the cached minutes.
    assert outcome(lambda: corrector.corrected(sent, original)) == expected
    assert corrector.received_text == format_time(at)


@settings(max_examples=200, deadline=None)
@given(received, st.lists(st.tuples(times, times), min_size=1, max_size=6))
def test_one_corrector_for_a_whole_request(at: datetime, pairs: list[tuple[Any, Any]]) -> None:
    """Messages of one request share a corrector: no answer depends on the one before."""
    corrector = TimeCorrector(at)
    for sent, original in pairs:
        expected = outcome(lambda: corrected_time(at, sent, original))  # noqa: B023
        assert outcome(lambda: corrector.corrected(sent, original)) == expected  # noqa: B023


def test_skew_is_corrected_from_received_at() -> None:
    at = datetime(2026, 3, 1, 12, 0, 10, 500_999, tzinfo=UTC)
    corrector = TimeCorrector(at)
    # The client's clock is 5.5 s behind: its event 5 s before sending happened at 12:00:05.5.
    assert corrector.corrected("2026-03-01T12:00:05.000Z", "2026-03-01T12:00:00.000Z") == (
        "2026-03-01T12:00:05.500Z"
    )
    assert corrector.corrected(None, "2026-03-01T12:00:00.000Z") == "2026-03-01T12:00:00.000Z"
    assert corrector.corrected("2026-03-01T12:00:05.000Z", None) == "2026-03-01T12:00:10.500Z"
    assert corrector.corrected(None, None) == "2026-03-01T12:00:10.500Z"
    # Another offset and precision take the datetime path, with the same rule.
    assert corrector.corrected("2026-03-01T14:00:05+02:00", "2026-03-01T12:00:00Z") == (
        "2026-03-01T12:00:05.500Z"
    )


@pytest.mark.parametrize(
    ("sent", "original", "field"),
    [
        ("yesterday", "2026-03-01T12:00:00.000Z", "sentAt"),
        ("yesterday", "never", "sentAt"),
        ("2026-03-01T12:00:05.000Z", "never", "timestamp"),
        (None, 1_700_000_000, "timestamp"),
        # Corrected past year 9999 / before year 1.
        ("0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z", "timestamp"),
        ("9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z", "timestamp"),
    ],
)
def test_unreadable_or_out_of_range_times_name_their_field(
    sent: Any, original: Any, field: str
) -> None:
    corrector = TimeCorrector(datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC))
    with pytest.raises(InvalidTime) as raised:
        corrector.corrected(sent, original)
    assert raised.value.field == field


def test_minute_caches_stay_bounded() -> None:
    minutes = TimeCorrector.minutes_cache()
    corrector = TimeCorrector(datetime(2026, 3, 1, tzinfo=UTC), minutes)
    start = datetime(2000, 1, 1)
    for n in range(10_000):
        text = canonical(start + timedelta(minutes=7 * n))
        assert corrector.corrected(None, text) == text
    assert 0 < len(minutes[0]) <= 4096 and len(minutes[1]) <= 4096
