"""How run.py starts each contender: its command line, its output files, its state.

Every contender is a shell pipeline (``bash -o pipefail -c ...``) started in its
own process group, so the harness measures the whole of it (source and
destination processes), and a SIGKILL of the group is a crash of all of it.

Each contender gets a work directory. ``command(work, mode)`` builds the command
for ``mode``:

* ``full`` — a first run into a fresh work directory (no state);
* ``incremental`` — a rerun in the same work directory from the state the last
  run left, writing to a separate output (``incremental_outputs``);
* ``resume`` — the same as the first run's command, rerun after it was killed,
  from whatever state it managed to persist, into the same output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PEERS_PYTHON = HERE.parent / ".venv" / "bin" / "python"
SYNCLINE_PYTHON = ROOT / ".venv" / "bin" / "python"

sys.path.insert(0, str(HERE))
from schema import record_schema  # noqa: E402


@dataclass(frozen=True)
class Contender:
    """One connector run the way its framework intends, with one setting of its knobs."""

    name: str  # e.g. "airbyte-py:on"
    label: str  # e.g. "Airbyte CDK HttpStream"
    validation: str  # "on" | "off"
    knobs: str  # exactly which settings "on"/"off" means
    build: Callable[[Path, str, str], str]  # (work, url, mode) -> shell command
    outputs: Callable[[Path, str], list[Path]]  # (work, mode) -> JSONL files to count
    cli_help: list[str]  # a --help command of the tool's CLI, for the cold start
    incremental: bool = True
    resume: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def peer(self) -> bool:
        return not self.name.startswith("syncline")


def _q(path: Path | str) -> str:
    return "'" + str(path).replace("'", "'\\''") + "'"


# -- Airbyte (Python CDK and declarative), one JSONL destination -------------------


def _airbyte_catalog(work: Path) -> Path:
    stream = {
        "name": "users",
        "json_schema": record_schema(),
        "supported_sync_modes": ["full_refresh", "incremental"],
        "source_defined_cursor": True,
        "default_cursor_field": ["updated_at"],
        "source_defined_primary_key": [["id"]],
    }
    catalog = {
        "streams": [
            {
                "stream": stream,
                "sync_mode": "incremental",
                "destination_sync_mode": "append",
                "cursor_field": ["updated_at"],
                "primary_key": [["id"]],
            }
        ]
    }
    path = work / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


def _airbyte(script: str, normalize: bool) -> Callable[[Path, str, str], str]:
    def build(work: Path, url: str, mode: str) -> str:
        config = work / "config.json"
        if not config.exists():
            config.write_text(json.dumps({
                "base_url": url, "page_size": 1000, "normalize": normalize,
                "start_date": "2000-01-01T00:00:00+0000",
            }))  # fmt: skip
        catalog = _airbyte_catalog(work)
        state = work / "state.json"
        # The destination writes the last durable STATE here; the next run reads it.
        args = f"read --config {_q(config)} --catalog {_q(catalog)}"
        if mode != "full" and state.exists():
            args += f" --state {_q(state)}"
        out = work / ("incremental.jsonl" if mode == "incremental" else "users.jsonl")
        return (
            f"{_q(PEERS_PYTHON)} {_q(HERE / script)} {args} 2>>{_q(work / 'source.err')} | "
            f"{_q(PEERS_PYTHON)} {_q(HERE / 'airbyte_dest.py')} {_q(out)} {_q(state)} "
            f"2>>{_q(work / 'destination.err')}"
        )

    return build


def _airbyte_outputs(work: Path, mode: str) -> list[Path]:
    return [work / ("incremental.jsonl" if mode == "incremental" else "users.jsonl")]


# -- Singer SDK: tap | target, state captured from the target's stdout ------------


def _singer(conform: bool) -> Callable[[Path, str, str], str]:
    def build(work: Path, url: str, mode: str) -> str:
        out = work / ("incremental" if mode == "incremental" else "out")
        out.mkdir(exist_ok=True)
        tap = work / "tap.json"
        tap.write_text(json.dumps({"base_url": url, "page_size": 1000, "conform": conform,
                                   "start_date": "2000-01-01T00:00:00+00:00"}))  # fmt: skip
        target = work / f"target-{out.name}.json"
        target.write_text(json.dumps({"directory": str(out), "validate_records": conform}))
        states = work / "states.jsonl"
        state_arg = ""
        if mode != "full" and states.exists():
            # As Meltano does: the last STATE the target emitted (after it flushed).
            lines = [line for line in states.read_text().splitlines() if line.strip()]
            if lines:
                (work / "state.json").write_text(lines[-1])
                state_arg = f" --state {_q(work / 'state.json')}"
        return (
            f"{_q(PEERS_PYTHON)} {_q(HERE / 'singer_tap.py')} --config {_q(tap)}{state_arg} "
            f"2>>{_q(work / 'tap.err')} | "
            f"{_q(PEERS_PYTHON)} {_q(HERE / 'singer_target.py')} --config {_q(target)} "
            f">>{_q(states)} 2>>{_q(work / 'target.err')}"
        )

    return build


def _singer_outputs(work: Path, mode: str) -> list[Path]:
    return [work / ("incremental" if mode == "incremental" else "out") / "users.jsonl"]


# -- dlt: one script, pipeline state in the work directory -------------------------


def _dlt(validate: bool) -> Callable[[Path, str, str], str]:
    def build(work: Path, url: str, mode: str) -> str:
        if mode == "incremental":
            # Files of earlier loads stay; count only this run's (see _dlt_outputs).
            (work / "before.json").write_text(json.dumps([str(p) for p in _dlt_files(work)]))
        flag = "on" if validate else "off"
        return (
            f"{_q(PEERS_PYTHON)} {_q(HERE / 'dlt_run.py')} {_q(work)} {_q(url)} 1000 {flag} "
            f"2>>{_q(work / 'dlt.err')}"
        )

    return build


def _dlt_files(work: Path) -> list[Path]:
    return sorted((work / "out" / "bench" / "users").glob("*.jsonl"))


def _dlt_outputs(work: Path, mode: str) -> list[Path]:
    files = _dlt_files(work)
    if mode == "incremental" and (work / "before.json").exists():
        before = set(json.loads((work / "before.json").read_text()))
        files = [p for p in files if str(p) not in before]
    return files


# -- Syncline ----------------------------------------------------------------------


def _syncline(work: Path, url: str, mode: str) -> str:
    if not (work / "home").exists():
        # The workspace, connections and pipeline, before the clock starts: what
        # `syncline apply` does once, as the other contenders' config files are
        # written here (untimed) before their runs.
        subprocess.run(
            [str(SYNCLINE_PYTHON), str(HERE / "syncline_run.py"), str(work), url, "1000", "setup"],
            check=True,
        )
    run = "incremental" if mode == "incremental" else "full"
    return (
        f"{_q(SYNCLINE_PYTHON)} {_q(HERE / 'syncline_run.py')} {_q(work)} {_q(url)} 1000 {run} "
        f">>{_q(work / 'runs.json')} 2>>{_q(work / 'syncline.err')}"
    )


def _syncline_outputs(work: Path, mode: str) -> list[Path]:
    # A run writes users.jsonl.partial and renames it over users.jsonl when it
    # finishes; after a kill, what it wrote is in the partial file.
    return [work / "out" / "users.jsonl", work / "out" / "users.jsonl.partial"]


AIRBYTE_KNOBS = (
    "stream `transformer`: `TypeTransformer(TransformConfig.DefaultSchemaNormalization)` "
    "(on) / `TransformConfig.NoTransform`, the default (off)"
)
YAML_KNOBS = "`record_selector.schema_normalization: Default` (on) / `None`, the default (off)"
SINGER_KNOBS = (
    "tap `TYPE_CONFORMANCE_LEVEL` `RECURSIVE`, the default, + target `validate_records: true`, "
    "the default (on) / `NONE` + `validate_records: false` (off)"
)
DLT_KNOBS = (
    "Pydantic model as `columns` (validates every item) + `schema_contract` columns and "
    "data_type `freeze` (on) / `max_table_nesting=0`, no column hints (off)"
)


def contenders() -> list[Contender]:
    """Every contender, Syncline first."""
    bin_ = PEERS_PYTHON.parent
    return [
        Contender("syncline", "import engine via the run command", "on",
                  "always on: schema compiled once, every record validated + normalized",
                  _syncline, _syncline_outputs,
                  [str(ROOT / ".venv" / "bin" / "syncline"), "--help"]),
        *(Contender(f"airbyte-py:{v}", "Airbyte CDK HttpStream", v, AIRBYTE_KNOBS,
                    _airbyte("airbyte_py.py", v == "on"), _airbyte_outputs,
                    [str(PEERS_PYTHON), str(HERE / "airbyte_py.py"), "--help"])
          for v in ("off", "on")),
        *(Contender(f"airbyte-yaml:{v}", "Airbyte declarative YAML", v, YAML_KNOBS,
                    _airbyte("airbyte_yaml.py", v == "on"), _airbyte_outputs,
                    [str(PEERS_PYTHON), str(HERE / "airbyte_yaml.py"), "--help"])
          for v in ("off", "on")),
        *(Contender(f"singer:{v}", "Singer SDK tap → target", v, SINGER_KNOBS,
                    _singer(v == "on"), _singer_outputs,
                    [str(PEERS_PYTHON), str(HERE / "singer_tap.py"), "--help"])
          for v in ("off", "on")),
        *(Contender(f"dlt:{v}", "dlt rest_api → filesystem JSONL", v, DLT_KNOBS,
                    _dlt(v == "on"), _dlt_outputs, [str(bin_ / "dlt"), "--help"])
          for v in ("off", "on")),
    ]  # fmt: skip


def environment() -> dict[str, str]:
    """The environment every contender runs with: no telemetry, no colour, default buffering."""
    env = dict(os.environ)
    env.update({"RUNTIME__DLTHUB_TELEMETRY": "false", "NO_COLOR": "1"})
    for name in ("VIRTUAL_ENV", "PYTHONUNBUFFERED"):
        env.pop(name, None)
    return env
