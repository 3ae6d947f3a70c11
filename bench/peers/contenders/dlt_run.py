"""dlt: the ``rest_api`` source into the ``filesystem`` destination as JSONL.

Written as dlt's docs describe a REST API pipeline: a declarative
``rest_api_source`` config (``client.base_url``, a ``cursor`` paginator reading
``next`` and sending it as ``after``, ``data_selector: data``, the ``updated_since``
parameter declared ``incremental`` on ``updated_at``), run by ``dlt.pipeline``
into ``filesystem`` (a local ``file://`` bucket) with ``loader_file_format="jsonl"``
(uncompressed: ``DATA_WRITER__DISABLE_COMPRESSION=true``). Extract, normalize and
load all run, as ``pipeline.run`` does.

    python dlt_run.py WORKDIR BASE_URL PAGE_SIZE on|off

``off``: ``max_table_nesting=0`` (``properties`` kept as one JSON column, no
flattening) and no column hints — the least normalization dlt allows.
``on``: a Pydantic model of the record as the resource's ``columns`` (dlt then
validates every item against it; the nested model makes ``properties`` one JSON
column) with ``schema_contract`` columns and data types ``freeze``, and dlt's
default normalization otherwise.
Pipeline state lives in ``WORKDIR/pipelines``, so a rerun is incremental.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

os.environ.setdefault("DATA_WRITER__DISABLE_COMPRESSION", "true")
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

import dlt
from dlt.sources.rest_api import rest_api_source
from pydantic import BaseModel


class Properties(BaseModel):
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    city: str | None = None
    country: str | None = None
    phone: str | None = None
    plan: str | None = None
    source: str | None = None
    utm_campaign: str | None = None
    language: str | None = None
    score: int | None = None
    visits: int | None = None
    age: int | None = None
    employees: int | None = None
    orders: int | None = None
    revenue: float | None = None
    ltv: float | None = None
    churn_risk: float | None = None
    active: bool | None = None
    verified: bool | None = None
    newsletter: bool | None = None
    created_at: datetime | None = None
    last_seen: datetime | None = None


class User(BaseModel):
    id: str
    updated_at: datetime
    properties: Properties


START = datetime.fromisoformat("2000-01-01T00:00:00+00:00")


def main(workdir: str, base_url: str, page_size: int, validate: bool) -> None:
    source = rest_api_source(
        {
            "client": {
                "base_url": base_url,
                "paginator": {"type": "cursor", "cursor_path": "next", "cursor_param": "after"},
            },
            "resource_defaults": {"primary_key": "id", "write_disposition": "append"},
            "resources": [
                {
                    "name": "users",
                    "endpoint": {
                        "path": "users",
                        "data_selector": "data",
                        "params": {
                            "limit": page_size,
                            "updated_since": {
                                "type": "incremental",
                                "cursor_path": "updated_at",
                                # The Pydantic validator (``on``) turns updated_at into a
                                # datetime before the incremental step compares it.
                                "initial_value": START if validate else START.isoformat(),
                            },
                        },
                    },
                }
            ],
        }
    )
    if validate:
        source.resources["users"].apply_hints(
            columns=User,
            schema_contract={"tables": "evolve", "columns": "freeze", "data_type": "freeze"},
        )
    else:
        source.max_table_nesting = 0
    pipeline = dlt.pipeline(
        pipeline_name="bench",
        pipelines_dir=os.path.join(workdir, "pipelines"),
        destination=dlt.destinations.filesystem(
            bucket_url="file://" + os.path.join(workdir, "out")
        ),
        dataset_name="bench",
        progress="log" if os.environ.get("BENCH_PROGRESS") else None,
    )
    info = pipeline.run(source, loader_file_format="jsonl")
    info.raise_on_failed_jobs()
    counts = pipeline.last_trace.last_normalize_info.row_counts  # type: ignore[union-attr]
    print(f"{counts.get('users', 0)} records", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "on")
