"""SIGKILL an export run mid-way; the rerun resumes it without duplicates or losses.

``syncline run`` in a subprocess reads a SQLite table and creates contacts in
the crm test app (real HTTP on 127.0.0.1, which rejects a second contact with
the same email). After the kill and the rerun: every row is in the app exactly
once, no more than one batch was sent twice (the server's request log says
what was sent), and every row's outcome is counted.
"""

from __future__ import annotations

from pathlib import Path

import testconnector.connector  # noqa: F401 - registers crm-test
from testconnector.world import export_world, kill_after_batches

import syncline.connectors.sqlite  # noqa: F401 - registers the source

ROWS = 20_000
BATCH = 1000


async def test_killed_export_resumes_with_at_most_one_batch_resent(tmp_path: Path) -> None:
    world = await export_world(tmp_path, ROWS, batch_size=BATCH, batch_limit=100)
    try:
        killed_id, checkpointed = await kill_after_batches(world, ["run", "people"], 3 * BATCH)
        assert checkpointed < ROWS
        sent_before = _items_sent(world)

        result = await world.ws.cli("run", "people", "--json")
        assert result.code == 0, result.stderr
        summary = result.json()
        assert summary["status"] == "succeeded"
        assert summary["resumed_from"] == killed_id

        emails = [r["email"] for r in world.app.contacts.values()]
        assert len(emails) == len(set(emails)) == ROWS
        assert set(emails) == {f"person{i}@example.com" for i in range(1, ROWS + 1)}

        # What the app received: every row once, plus at most the one batch
        # that was in flight when the process died.
        sent = _items_sent(world)
        assert ROWS <= sent <= ROWS + BATCH
        assert sent_before - checkpointed <= BATCH
        # The re-sent rows were matched to the contacts the dead run created:
        # no create was refused as a duplicate, every outcome is counted.
        counts = summary["counts"]
        assert counts["failed"] == counts["invalid"] == 0, summary["errors"]
        assert counts["created"] + counts["updated"] == counts["written"]
        assert counts["written"] >= ROWS
        assert counts["created"] <= ROWS
    finally:
        await world.server.stop()


def _items_sent(world) -> int:  # type: ignore[no-untyped-def]
    return sum(
        len(request.json()["records"])
        for request in world.server.requests("/contacts/batch", "POST")
        if request.status == 200
    )
