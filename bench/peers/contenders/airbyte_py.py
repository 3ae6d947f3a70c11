"""Airbyte Python CDK source: an ``HttpStream`` over the benchmark API.

Written as the CDK docs describe a Python source: an ``AbstractSource`` whose
``streams()`` returns one ``HttpStream`` implementing ``url_base``, ``path``,
``request_params``, ``next_page_token`` and ``parse_response``; incremental via
``IncrementalMixin`` (``cursor_field`` ``updated_at``, the ``state`` property,
a checkpoint every ``state_checkpoint_interval`` records). Run with the CDK
entrypoint::

    python airbyte_py.py read --config CONFIG --catalog CATALOG [--state STATE]

Config: ``base_url``, ``page_size``, ``normalize`` (true: the stream's
``transformer`` is ``TypeTransformer(TransformConfig.DefaultSchemaNormalization)``;
false: ``TransformConfig.NoTransform``, the CDK default).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import requests
from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import IncrementalMixin, Stream
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.utils.transform import TransformConfig, TypeTransformer

sys.path.insert(0, str(Path(__file__).parent))
from schema import record_schema


class Users(HttpStream, IncrementalMixin):
    primary_key = "id"
    cursor_field = "updated_at"
    state_checkpoint_interval = 10_000

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        self._base = config["base_url"].rstrip("/") + "/"
        self._page_size = int(config.get("page_size", 1000))
        self._cursor: str | None = None
        if config.get("normalize"):
            self.transformer = TypeTransformer(TransformConfig.DefaultSchemaNormalization)

    @property
    def url_base(self) -> str:
        return self._base

    def path(self, **kwargs: Any) -> str:
        return "users"

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {self.cursor_field: self._cursor} if self._cursor else {}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor = value.get(self.cursor_field)

    def get_json_schema(self) -> Mapping[str, Any]:
        return record_schema()

    def request_params(
        self,
        stream_state: Mapping[str, Any] | None,
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> MutableMapping[str, Any]:
        params: dict[str, Any] = {"limit": self._page_size, "after": "0"}
        if next_page_token:
            params["after"] = next_page_token["after"]
        since = (stream_state or {}).get(self.cursor_field)
        if since:
            params["updated_since"] = since
        return params

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        following = response.json()["next"]
        return {"after": following} if following is not None else None

    def parse_response(
        self, response: requests.Response, **kwargs: Any
    ) -> Iterable[Mapping[str, Any]]:
        for item in response.json()["data"]:
            self._cursor = item["updated_at"]  # the API returns records sorted by updated_at
            yield item


class SourceBench(AbstractSource):
    def spec(self, logger: Any) -> ConnectorSpecification:
        return ConnectorSpecification(
            connectionSpecification={
                "type": "object",
                "required": ["base_url"],
                "properties": {
                    "base_url": {"type": "string"},
                    "page_size": {"type": "integer"},
                    "normalize": {"type": "boolean"},
                },
            }
        )

    def check_connection(self, logger: Any, config: Mapping[str, Any]) -> tuple[bool, Any]:
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        return [Users(config)]


if __name__ == "__main__":
    launch(SourceBench(), sys.argv[1:])
