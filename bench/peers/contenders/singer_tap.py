"""Singer SDK tap: a ``RESTStream`` over the benchmark API.

Written as the SDK docs describe a REST tap: a ``Tap`` whose ``discover_streams``
returns a ``RESTStream`` with ``url_base``, ``path``, ``records_jsonpath``
(``$.data[*]``), a ``JSONPathPaginator("$.next")`` and ``get_url_params``;
incremental via ``replication_key = "updated_at"`` with ``is_sorted = True``
(the API sorts by it), so the SDK checkpoints and the stream can resume.

Config: ``base_url``, ``page_size``, ``start_date``, ``conform`` (true: the
SDK default ``TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE``;
false: ``TypeConformanceLevel.NONE``).

    python singer_tap.py --config CONFIG [--state STATE] | python singer_target.py --config C
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from singer_sdk import RESTStream, Tap
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import JSONPathPaginator

sys.path.insert(0, str(Path(__file__).parent))
from schema import record_schema


class UsersStream(RESTStream[str]):
    name = "users"
    path = "/users"
    primary_keys = ("id",)
    replication_key = "updated_at"
    is_sorted = True
    records_jsonpath = "$.data[*]"
    schema = record_schema()

    def __init__(self, tap: Tap) -> None:
        super().__init__(tap)
        if not self.config.get("conform", True):
            self.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @property
    def url_base(self) -> str:
        return str(self.config["base_url"]).rstrip("/")

    def get_new_paginator(self) -> JSONPathPaginator:
        return JSONPathPaginator("$.next")

    def get_url_params(self, context: dict | None, next_page_token: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": self.config.get("page_size", 1000)}
        params["after"] = next_page_token or "0"
        since = self.get_starting_replication_key_value(context)
        if since:
            params["updated_since"] = since
        return params


class TapBench(Tap):
    name = "tap-bench"
    config_jsonschema = th.PropertiesList(
        th.Property("base_url", th.StringType, required=True),
        th.Property("page_size", th.IntegerType, default=1000),
        th.Property("start_date", th.DateTimeType),
        th.Property("conform", th.BooleanType, default=True),
    ).to_dict()

    def discover_streams(self) -> list[UsersStream]:
        return [UsersStream(self)]


if __name__ == "__main__":
    TapBench.cli()
