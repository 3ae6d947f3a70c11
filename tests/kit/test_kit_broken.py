"""The acceptance suite fails each broken connector with the check and the message for its bug.

One pytest subprocess runs the relevant check of every broken connector (and
one check each bug does not touch, which must pass, so a failure is the bug's
and not the harness's); the JUnit report says which failed and why.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

HERE = Path(__file__).parent
MODULE = HERE / "kit_broken" / "acceptance_broken.py"

# (class, check, a fragment of the failure message)
EXPECTED = [
    ("TestBrokenDiscard", "test_discarded_events_are_not_sent", "was still sent to the app"),
    ("TestBrokenMultiStatus", "test_upsert_reports_per_item_errors", "a 207 multi-status"),
    ("TestBrokenNow", "test_updated_at_is_the_apps_value", "never now()"),
    (
        "TestBrokenPostpone",
        "test_oversized_first_event_is_not_postponed",
        "postponed the first event",
    ),
    ("TestBrokenSecret", "test_no_secret_in_logs_or_errors", "secret setting 'api_key (bad)'"),
    ("TestBrokenGreedy", "test_rate_limits_respected", "published limits"),
]
# Checks the bugs do not touch: they must pass for the same connectors.
PASSING = [
    ("TestBrokenDiscard", "test_read_every_page"),
    ("TestBrokenMultiStatus", "test_upsert_creates_and_updates"),
    ("TestBrokenNow", "test_read_every_page"),
    ("TestBrokenPostpone", "test_send_events"),
    ("TestBrokenSecret", "test_check_reports_bad_settings"),
    ("TestBrokenGreedy", "test_read_every_page"),
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str | None]:
    report = tmp_path_factory.mktemp("broken") / "report.xml"
    ids = [f"{MODULE}::{cls}::{test}" for cls, test, _ in EXPECTED]
    ids += [f"{MODULE}::{cls}::{test}" for cls, test in PASSING]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            *ids,
        ],
        cwd=HERE.parent.parent,
        capture_output=True,
        timeout=300,
        check=False,
    )
    found: dict[tuple[str, str], str | None] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        cls = case.get("classname", "").rsplit(".", 1)[-1]
        failure = case.find("failure")
        found[(cls, case.get("name", ""))] = (
            None if failure is None else ((failure.get("message") or "") + (failure.text or ""))
        )
    return found


@pytest.mark.parametrize(("cls", "test", "message"), EXPECTED, ids=[c for c, _, _ in EXPECTED])
def test_suite_catches_the_bug(
    outcomes: dict[tuple[str, str], str | None], cls: str, test: str, message: str
) -> None:
    assert (cls, test) in outcomes, f"{cls}::{test} did not run: {sorted(outcomes)}"
    failure = outcomes[(cls, test)]
    assert failure is not None, f"the acceptance suite passed {cls} although {test} should fail"
    assert message in failure, f"{cls}::{test} failed, but not with {message!r}:\n{failure[:2000]}"


@pytest.mark.parametrize(("cls", "test"), PASSING, ids=[c for c, _ in PASSING])
def test_other_checks_pass(
    outcomes: dict[tuple[str, str], str | None], cls: str, test: str
) -> None:
    assert (cls, test) in outcomes, f"{cls}::{test} did not run: {sorted(outcomes)}"
    assert outcomes[(cls, test)] is None, f"{cls}::{test} failed:\n{outcomes[(cls, test)]}"
