"""Airbyte declarative (low-code) source: manifest.yaml run by ``YamlDeclarativeSource``.

The manifest is the connector: ``HttpRequester`` + ``DpathExtractor(["data"])``,
``DefaultPaginator`` with ``CursorPagination`` on ``response.next`` injected as
the ``after`` parameter, and a ``DatetimeBasedCursor`` on ``updated_at`` sent as
``updated_since`` for incremental reads. The inline schema is the shared record
schema. Config ``normalize`` picks ``record_selector.schema_normalization``:
``Default`` (the CDK's ``TypeTransformer`` default normalization) or ``None``.

    python airbyte_yaml.py read --config CONFIG --catalog CATALOG [--state STATE]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import yaml
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from schema import record_schema  # noqa: E402


def manifest_path(normalize: bool) -> str:
    manifest = yaml.safe_load((HERE / "manifest.yaml").read_text())
    stream = manifest["streams"][0]
    stream["schema_loader"]["schema"] = record_schema()
    stream["retriever"]["record_selector"]["schema_normalization"] = (
        "Default" if normalize else "None"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(manifest, handle)
    return handle.name


def main(args: list[str]) -> None:
    parsed = AirbyteEntrypoint.parse_args(args)
    config_path = getattr(parsed, "config", None)
    config = json.loads(Path(config_path).read_text()) if config_path else {}
    catalog = (
        YamlDeclarativeSource.read_catalog(parsed.catalog)
        if getattr(parsed, "catalog", None)
        else None
    )
    state = (
        YamlDeclarativeSource.read_state(parsed.state) if getattr(parsed, "state", None) else None
    )
    source = YamlDeclarativeSource(
        manifest_path(bool(config.get("normalize"))), catalog=catalog, config=config, state=state
    )
    launch(source, args)


if __name__ == "__main__":
    main(sys.argv[1:])
