"""JSON Lines files (``.jsonl``): one JSON object per line.

Reading, each non-blank line is a record; the ``key`` field is its ID. Writing,
each record is one line: ``{"<key>": id, ...attributes}`` encoded by orjson
(datetimes ISO 8601 in UTC with ``Z``, decimals as strings, dates and times
ISO 8601). See docs/connectors/files.md.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from itertools import repeat
from operator import contains
from typing import Any

import orjson

from syncline.connectors.files._base import (
    Encoder,
    FileConnector,
    Page,
    missing_id,
    parse_updated_at,
)
from syncline.connectors.files._infer import infer, property_names
from syncline.connectors.files._options import FileOptions, FileSettings
from syncline.connectors.files._partial import Entries
from syncline.sdk.errors import PermanentError
from syncline.sdk.records import Record
from syncline.sdk.registry import connector
from syncline.sdk.spec import (
    ANY_TARGET,
    ApplicationSpec,
    AsDestination,
    AsSource,
    Category,
    SendingMode,
)
from syncline.types import Object

__all__ = ["SPEC", "JsonLines"]

_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


SPEC = ApplicationSpec(
    code="jsonl",
    label="JSON Lines",
    categories=(Category.FILE,),
    as_source=AsSource(
        targets=(ANY_TARGET,),
        summary="Read a JSON Lines file page by page; infer its schema or declare it.",
    ),
    as_destination=AsDestination(
        targets=(ANY_TARGET,),
        sending_mode=SendingMode.NONE,
        summary="Write records to a JSON Lines file, crash-safely.",
    ),
    settings=FileSettings,
    pipeline_options=FileOptions,
    description="A JSON Lines file on this machine.",
)


def _by_columns(
    prefix: bytes, ids: list[str | None], attributes: list[dict[str, Any]]
) -> bytes | None:
    """The lines of records that all have attributes and none the key, column by column.

    The heads (``{"key":id,``) and the bodies (each encoding without its
    ``{``) are built in two passes, interleaved and joined once. None when a
    record cannot be encoded: the record-by-record path then says which.
    """
    dumps = orjson.dumps
    try:
        heads = [prefix + dumps(record_id) + b"," for record_id in ids]
        bodies = [dumps(values, default=_default, option=_OPTIONS)[1:] for values in attributes]
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None
    parts: list[bytes] = heads + bodies
    parts[0::2] = heads
    parts[1::2] = bodies
    return b"".join(parts)


@connector(SPEC)
class JsonLines(FileConnector):
    """The JSON Lines connector."""

    options_model = FileOptions
    format_name = "JSON Lines"

    def sample(self, path: str, options: FileOptions) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        with open(path, "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    value = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(value, dict):
                    rows.append(value)
                    if len(rows) >= options.infer_rows:
                        break
        return rows

    def infer(self, rows: list[dict[str, Any]]) -> Object:
        return infer(rows)

    def read(
        self,
        path: str,
        options: FileOptions,
        offset: int | None,
        since: dt.datetime | None,
        schema: Object,
    ) -> Page:
        key = options.key
        updated_field = options.updated_at
        limit = options.page_size
        wanted = set(schema.names()) or None
        rename: dict[str, str | None] = {}
        # Fields whose property is the field itself and wanted: the common case,
        # where the parsed object is used as it is.
        plain: set[str] = set()
        records: list[Record] = []
        position = offset or 0
        with open(path, "rb") as f:
            f.seek(position)
            for line in f:
                start = position
                position += len(line)
                if not line.strip():
                    continue
                try:
                    value = orjson.loads(line)
                except orjson.JSONDecodeError:
                    value = None
                if not isinstance(value, dict):
                    records.append(
                        Record(
                            "",
                            {},
                            None,
                            PermanentError(f"the line at byte {start} is not a JSON object"),
                        )
                    )
                else:
                    record = _record(value, key, updated_field, since, wanted, rename, plain, start)
                    if record is not None:
                        records.append(record)
                if len(records) >= limit:
                    return records, position, False
        return records, position, True

    def encoder(self, options: FileOptions, schema: Object) -> tuple[bytes, Encoder]:
        key = options.key
        prefix = b"{" + orjson.dumps(key) + b":"
        dumps = orjson.dumps

        def encode(
            ids: list[str | None], attributes: list[dict[str, Any]]
        ) -> tuple[bytes, dict[int, Exception]]:
            if all(attributes) and not any(map(contains, attributes, repeat(key))):
                whole = _by_columns(prefix, ids, attributes)
                if whole is not None:
                    return whole, {}
            # Record by record: the general shapes, and which record fails.
            lines: list[bytes] = []
            failed: dict[int, Exception] = {}
            for i, (record_id, values) in enumerate(zip(ids, attributes, strict=True)):
                try:
                    if not values:
                        lines.append(prefix + dumps(record_id) + b"}\n")
                    elif key in values:
                        line = {key: record_id}
                        line.update(values)
                        line[key] = record_id
                        lines.append(dumps(line, default=_default, option=_OPTIONS))
                    else:
                        # The ID spliced in front of the attributes' own encoding:
                        # no per-record dict copy.
                        body = dumps(values, default=_default, option=_OPTIONS)
                        lines.append(prefix + dumps(record_id) + b"," + body[1:])
                except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
                    failed[i] = PermanentError(f"the record cannot be written as JSON: {exc}")
            return b"".join(lines), failed

        return b"", encode

    def entries(self, options: FileOptions) -> Entries:
        key = options.key

        def scan(path: str) -> tuple[int, Iterator[tuple[int, int, str | None]]]:
            def spans() -> Iterator[tuple[int, int, str | None]]:
                position = 0
                with open(path, "rb") as f:
                    for line in f:
                        start = position
                        position += len(line)
                        if not line.endswith(b"\n"):
                            return  # torn by a crash
                        try:
                            value = orjson.loads(line).get(key)
                        except (orjson.JSONDecodeError, AttributeError):
                            value = None
                        yield start, position, None if value is None else str(value)

            return 0, spans()

        return scan


def _record(
    value: dict[str, Any],
    key: str,
    updated_field: str | None,
    since: dt.datetime | None,
    wanted: set[str] | None,
    rename: dict[str, str | None],
    plain: set[str],
    start: int,
) -> Record | None:
    record_id = value.get(key)
    if record_id is None or record_id == "":
        return missing_id(key, start)
    changed = None
    if updated_field is not None:
        changed = parse_updated_at(value.get(updated_field))
        if since is not None and changed is not None and changed < since:
            return None
    if plain.issuperset(value):
        attributes = value
    else:
        attributes = {}
        for field, item in value.items():
            if field in rename:
                name = rename[field]
            else:
                name = property_names([field]).get(field)
                if name is not None and wanted is not None and name not in wanted:
                    name = None
                rename[field] = name
                if name == field:
                    plain.add(field)
            if name is not None:
                attributes[name] = item
    return Record(str(record_id), attributes, changed)
