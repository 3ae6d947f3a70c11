"""Unchanged Segment and RudderStack client libraries send to a real collector.

Each library sends through its own HTTP code (auth, gzip, batching, sentAt) and
the test finds every event in the event log as it was sent, in the order the
client sent them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from collect_support import WRITE_KEY, RunningCollector

from syncline.sdk.received import ReceivedEvent


def _check_common(messages: list[dict[str, Any]], library: str) -> None:
    for message in messages:
        assert message["context"]["library"]["name"] == library
        assert message["messageId"]
        ReceivedEvent.from_message(message)


def _send_with(module: Any, collector: RunningCollector, gzip: bool) -> list[str]:
    errors: list[str] = []
    client = module.Client(
        WRITE_KEY,
        host=collector.url,
        gzip=gzip,
        max_retries=0,
        on_error=lambda error, batch: errors.append(repr(error)),
    )
    happened = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)
    client.identify("user-1", {"email": "ada@example.com", "plan": "pro"})
    for n in range(30):
        client.track(
            "user-1",
            "Song Played",
            {"n": n, "title": "Blue in Green", "tags": ["jazz"], "price": 1.5},
            timestamp=happened + timedelta(seconds=n),
        )
    client.page(anonymous_id="anon-7", name="Pricing", properties={"path": "/pricing"})
    client.screen("user-1", name="Settings")
    client.group("user-1", "org-9", {"name": "Acme"})
    client.alias("user-1", "anon-7")
    client.flush()
    client.join()
    return errors


@pytest.mark.parametrize("gzip", [False, True])
def test_segment_analytics_python(collector: RunningCollector, gzip: bool) -> None:
    import segment.analytics as segment

    errors = _send_with(segment, collector, gzip)
    assert errors == []
    messages = collector.messages()
    _check_sent(messages, "analytics-python")
    assert messages[0]["traits"] == {"email": "ada@example.com", "plan": "pro"}


@pytest.mark.parametrize("gzip", [True, False])
def test_rudder_sdk_python(collector: RunningCollector, gzip: bool) -> None:
    import rudderstack.analytics as rudder

    errors = _send_with(rudder, collector, gzip)
    assert errors == []
    messages = collector.messages()
    _check_sent(messages, "analytics-python")
    assert {m["channel"] for m in messages} == {"server"}
    # RudderStack's client sends identify traits inside the context.
    assert messages[0]["context"]["traits"] == {"email": "ada@example.com", "plan": "pro"}


def _check_sent(messages: list[dict[str, Any]], library: str) -> None:
    _check_common(messages, library)
    assert [m["type"] for m in messages] == [
        "identify",
        *["track"] * 30,
        "page",
        "screen",
        "group",
        "alias",
    ]
    identify, tracks = messages[0], messages[1:31]
    assert identify["userId"] == "user-1"
    assert [m["properties"]["n"] for m in tracks] == list(range(30))
    assert tracks[0]["properties"] == {
        "n": 0,
        "title": "Blue in Green",
        "tags": ["jazz"],
        "price": 1.5,
    }
    assert all(m["event"] == "Song Played" for m in tracks)
    original = datetime.fromisoformat(tracks[3]["originalTimestamp"])
    assert original == datetime(2026, 2, 1, 9, 30, 3, tzinfo=UTC)
    # Client and collector share a clock here, so the skew correction changes
    # the time by no more than the trip from the client's queue to the log.
    corrected = datetime.fromisoformat(tracks[3]["timestamp"])
    assert timedelta(0) <= corrected - original < timedelta(seconds=10)
    page, screen, group, alias = messages[31:]
    assert (page["anonymousId"], page["name"], page["properties"]) == (
        "anon-7",
        "Pricing",
        {"path": "/pricing"},
    )
    assert screen["name"] == "Settings"
    assert (group["groupId"], group["traits"]) == ("org-9", {"name": "Acme"})
    assert (alias["userId"], alias["previousId"]) == ("anon-7", "user-1")
    assert len({m["messageId"] for m in messages}) == len(messages)


NODE_SCRIPT = """
const { Analytics } = require('@segment/analytics-node')
const analytics = new Analytics({ writeKey: process.argv[2], host: process.argv[3], flushAt: 7 })
analytics.identify({ userId: 'node-1', traits: { plan: 'team' } })
for (let n = 0; n < 20; n++) {
  analytics.track({ userId: 'node-1', event: 'Clicked', properties: { n } })
}
analytics.closeAndFlush().then(() => console.log('flushed'))
"""


def _node_client(cache: Path) -> Path:
    """Install @segment/analytics-node once into a cache directory; return it."""
    if (cache / "node_modules" / "@segment" / "analytics-node").is_dir():
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(cache),
            "@segment/analytics-node@3",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    if result.returncode != 0:
        pytest.fail(f"npm could not install @segment/analytics-node: {result.stderr[-2000:]}")
    return cache


def test_segment_analytics_node(collector: RunningCollector) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed (apt-get install nodejs npm)")
    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    directory = _node_client(cache_root / "syncline-tests" / "analytics-node")
    script = directory / "send.js"
    script.write_text(NODE_SCRIPT)
    result = subprocess.run(
        ["node", str(script), WRITE_KEY, collector.url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=directory,
    )
    assert result.returncode == 0, result.stderr
    assert "flushed" in result.stdout
    messages = collector.messages()
    _check_common(messages, "@segment/analytics-node")
    # analytics-node sends its batches (7 events each here) concurrently, so the
    # batches may reach the log in any order; each batch stays in order.
    [identify] = [m for m in messages if m["type"] == "identify"]
    assert identify["traits"] == {"plan": "team"}
    tracks = [m for m in messages if m["type"] == "track"]
    assert len(messages) == 21
    assert sorted(m["properties"]["n"] for m in tracks) == list(range(20))
    assert all(m["userId"] == "node-1" and m["event"] == "Clicked" for m in tracks)
