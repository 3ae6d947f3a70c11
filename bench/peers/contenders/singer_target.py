"""Singer SDK target: a ``BatchSink`` appending each batch to ``<directory>/<stream>.jsonl``.

The SDK's own pattern for a file target: ``Target`` with ``default_sink_class``;
the sink keeps the default ``process_record`` (stage into the batch context) and
``process_batch`` appends the batch and fsyncs. The SDK emits each STATE on
stdout only after draining the sinks, so the last STATE line it prints is a
durable checkpoint (what Meltano stores). Config: ``directory`` and the SDK's
built-in ``validate_records`` (JSON Schema validation of each record, default true).

    python singer_target.py --config CONFIG > state-lines
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from singer_sdk import BatchSink, Target
from singer_sdk import typing as th


def _number(value: Any) -> Any:
    # The SDK parses JSON numbers as Decimal; write them back as JSON numbers.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class JsonlSink(BatchSink):
    def process_batch(self, context: dict) -> None:
        path = Path(self.config["directory"]) / f"{self.stream_name}.jsonl"
        option = orjson.OPT_APPEND_NEWLINE
        with path.open("ab") as out:
            out.write(
                b"".join(
                    orjson.dumps(r, default=_number, option=option)
                    for r in context.get("records", [])
                )
            )
            out.flush()
            os.fsync(out.fileno())


class TargetJsonl(Target):
    name = "target-bench-jsonl"
    config_jsonschema = th.PropertiesList(
        th.Property("directory", th.StringType, required=True),
    ).to_dict()
    default_sink_class = JsonlSink


if __name__ == "__main__":
    TargetJsonl.cli()
