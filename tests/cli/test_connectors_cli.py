"""`syncline connectors` lists the shipped connectors, found through entry points."""

from __future__ import annotations

import subprocess
import sys

import orjson


def test_shipped_connectors_are_listed_through_their_entry_points() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "syncline.cli.main", "connectors", "--json"],
        capture_output=True,
        check=True,
    ).stdout
    listing = orjson.loads(out)
    rows = {row["code"]: row for row in listing["connectors"]}
    assert {"sqlite", "postgres", "jsonl", "csv"} <= set(rows)
    assert rows["sqlite"]["reads"] == ["*"] and rows["sqlite"]["writes"] == ["*"]
    assert listing["load_failures"] == []


def test_table_names_any_target() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "syncline.cli.main", "connectors"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    ).stdout
    line = next(line for line in out.splitlines() if " sqlite " in line)
    assert "any" in line and "SQLite" in line
