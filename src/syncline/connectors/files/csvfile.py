"""CSV files: a header row, then one record per row.

Reading, the header names the fields and the ``key`` column is the ID; cells
are converted to the kinds of the schema the engine asks for (an empty cell is
null). Writing, the header is the key column then the schema's properties in
order; values are written canonically: datetimes ISO 8601 in UTC with ``Z``,
decimals as their exact text, booleans ``true``/``false``, objects, arrays and
maps as JSON, null as an empty cell. Rows end with ``\\n``; cells are quoted
when needed (RFC 4180 style), so a cell may span lines. See
docs/connectors/files.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from typing import IO, Any

import orjson

from syncline.connectors.files._base import (
    Encoder,
    FileConnector,
    Page,
    missing_id,
    parse_updated_at,
)
from syncline.connectors.files._infer import csv_value, infer, property_names
from syncline.connectors.files._options import CsvOptions, FileOptions, FileSettings
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
from syncline.types import (
    JSON,
    Array,
    Boolean,
    DateTime,
    Float,
    Int,
    Map,
    Object,
    Type,
)

__all__ = ["SPEC", "Csv"]

_BOM = b"\xef\xbb\xbf"
Cell = Callable[[str], Any]

SPEC = ApplicationSpec(
    code="csv",
    label="CSV",
    categories=(Category.FILE,),
    as_source=AsSource(
        targets=(ANY_TARGET,),
        summary="Read a CSV file with a header row page by page; infer its schema or declare it.",
    ),
    as_destination=AsDestination(
        targets=(ANY_TARGET,),
        sending_mode=SendingMode.NONE,
        summary="Write records to a CSV file with a header from the schema, crash-safely.",
    ),
    settings=FileSettings,
    pipeline_options=CsvOptions,
    description="A CSV file on this machine.",
)


class _Lines:
    """Decoded lines of a binary file, counting the bytes handed out."""

    def __init__(self, f: IO[bytes], position: int) -> None:
        self.f = f
        self.position = position
        self.last = b"\n"

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.f.readline()
        if not line:
            raise StopIteration
        self.position += len(line)
        self.last = line
        return line.decode("utf-8")


def _header(f: IO[bytes], delimiter: str) -> tuple[list[str], int]:
    """The header's field names and the offset after it (a BOM is skipped)."""
    start = 3 if f.read(3) == _BOM else 0
    f.seek(start)
    lines = _Lines(f, start)
    row = next(csv.reader(lines, delimiter=delimiter), None)
    if row is None:
        raise ValueError("the CSV file is empty: it needs a header row naming the fields")
    return row, lines.position


def _cell(t: Type | None) -> Cell:
    """The converter of a non-empty cell to a value of ``t`` (text left as is on failure)."""

    def guarded(convert: Callable[[str], Any]) -> Cell:
        def cell(text: str) -> Any:
            try:
                return convert(text)
            except (ValueError, orjson.JSONDecodeError):
                return text

        return cell

    if t is None:
        return csv_value
    if isinstance(t, Int):
        return guarded(int)
    if isinstance(t, Float):
        return guarded(float)
    if isinstance(t, Boolean):
        truth = {"true": True, "false": False}
        return lambda text: truth.get(text.lower(), text)
    if isinstance(t, JSON | Array | Object | Map):
        return guarded(orjson.loads)
    return str


def _iso_utc(value: dt.datetime) -> str:
    if value.tzinfo is not dt.UTC:
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat() + "Z"


_ISO = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def _datetimes(values: list[Any]) -> list[Any]:
    # datetime.isoformat costs microseconds a value; orjson formats the whole
    # column in one call. Values not in UTC (no "Z") are converted one by one.
    present = [v for v in values if v is not None]
    for v in present:
        if type(v) is not dt.datetime:
            raise TypeError("not a datetime")
    if not present:
        return list(values)
    texts = orjson.dumps(present, option=_ISO).decode()[2:-2].split('","')
    fixed = [t if t[-1] == "Z" else _iso_utc(v) for t, v in zip(texts, present, strict=True)]
    if len(fixed) == len(values):
        return fixed
    it = iter(fixed)
    return [None if v is None else next(it) for v in values]


def _booleans(values: list[Any]) -> list[Any]:
    for v in values:
        if v is not None and not isinstance(v, bool):
            raise TypeError("not a boolean")
    return [None if v is None else "true" if v else "false" for v in values]


def _json_texts(values: list[Any]) -> list[Any]:
    dumps = orjson.dumps
    return [None if v is None else dumps(v).decode() for v in values]


_FAILURES = (TypeError, ValueError)


def _column_writer(t: Type) -> Callable[[list[Any]], list[Any]] | None:
    # csv writes str(value): right for strings, ints, floats, decimals, dates
    # and times; the other kinds need their canonical text.
    if isinstance(t, Boolean):
        return _booleans
    if isinstance(t, DateTime):
        return _datetimes
    if isinstance(t, JSON | Array | Object | Map):
        return _json_texts
    return None


def _convert(
    convert: Callable[[list[Any]], list[Any]], values: list[Any]
) -> tuple[list[Any], list[int]]:
    """``convert(values)``; when it fails, value by value, returning the failed positions."""
    try:
        return convert(values), []
    except _FAILURES:
        pass
    out: list[Any] = []
    failed: list[int] = []
    for i, value in enumerate(values):
        try:
            out.extend(convert([value]))
        except _FAILURES:
            failed.append(i)
            out.append(None)
    return out, failed


@connector(SPEC)
class Csv(FileConnector):
    """The CSV connector."""

    options_model = CsvOptions
    format_name = "CSV"

    def sample(self, path: str, options: FileOptions) -> list[dict[str, Any]]:
        assert isinstance(options, CsvOptions)
        rows: list[dict[str, Any]] = []
        with open(path, "rb") as f:
            names, position = _header(f, options.delimiter)
            for row in csv.reader(_Lines(f, position), delimiter=options.delimiter):
                if not row:
                    continue
                rows.append({n: csv_value(c) for n, c in zip(names, row, strict=False)})
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
        assert isinstance(options, CsvOptions)
        limit = options.page_size
        records: list[Record] = []
        with open(path, "rb") as f:
            names, header_end = _header(f, options.delimiter)
            if options.key not in names:
                raise ValueError(
                    f"the CSV header has no key column {options.key!r} (pipeline option 'key')"
                )
            key_index = names.index(options.key)
            updated_index = (
                names.index(options.updated_at)
                if options.updated_at is not None and options.updated_at in names
                else None
            )
            wanted = {p.name: p.type for p in schema.properties} or None
            columns = [
                (i, prop, _cell(None if wanted is None else wanted[prop]))
                for i, (field, prop) in enumerate((f, property_names([f]).get(f)) for f in names)
                if prop is not None and (wanted is None or prop in wanted)
            ]
            width = len(names)
            position = max(offset or 0, header_end)
            f.seek(position)
            lines = _Lines(f, position)
            reader = csv.reader(lines, delimiter=options.delimiter)
            while len(records) < limit:
                start = lines.position
                try:
                    row = next(reader, None)
                except csv.Error:
                    records.append(
                        Record(
                            "",
                            {},
                            None,
                            PermanentError(f"the CSV row at byte {start} is malformed"),
                        )
                    )
                    continue
                if row is None:
                    return records, lines.position, True
                if not row:
                    continue
                if len(row) != width:
                    records.append(
                        Record(
                            "",
                            {},
                            None,
                            PermanentError(
                                f"the CSV row at byte {start} has {len(row)} cells; the header "
                                f"has {width}"
                            ),
                        )
                    )
                    continue
                record_id = row[key_index]
                if not record_id:
                    records.append(missing_id(options.key, start))
                    continue
                changed = None
                if updated_index is not None:
                    changed = parse_updated_at(row[updated_index])
                    if since is not None and changed is not None and changed < since:
                        continue
                attributes = {
                    prop: None if row[i] == "" else convert(row[i]) for i, prop, convert in columns
                }
                records.append(Record(record_id, attributes, changed))
            return records, lines.position, False

    def encoder(self, options: FileOptions, schema: Object) -> tuple[bytes, Encoder]:
        assert isinstance(options, CsvOptions)
        key = options.key
        delimiter = options.delimiter
        props = [p for p in schema.properties if p.name != key]
        names = [p.name for p in props]
        writers = [_column_writer(p.type) for p in props]
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerow([key, *names])
        header = buffer.getvalue().encode()

        def encode(
            ids: list[str | None], attributes: list[dict[str, Any]]
        ) -> tuple[bytes, dict[int, Exception]]:
            columns: list[list[Any]] = [list(ids)]
            failed: dict[int, Exception] = {}
            for name, convert in zip(names, writers, strict=True):
                values = [a.get(name) for a in attributes]
                if convert is not None:
                    values, bad = _convert(convert, values)
                    for i in bad:
                        failed.setdefault(
                            i,
                            PermanentError(
                                f"property {name!r}: the value cannot be written as CSV"
                            ),
                        )
                columns.append(values)
            rows: Any = zip(*columns, strict=True)
            if failed:
                rows = [row for i, row in enumerate(rows) if i not in failed]
            out = io.StringIO()
            csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
            return out.getvalue().encode(), failed

        return header, encode

    def entries(self, options: FileOptions) -> Entries:
        assert isinstance(options, CsvOptions)
        delimiter = options.delimiter

        def scan(path: str) -> tuple[int, Iterator[tuple[int, int, str | None]]]:
            with open(path, "rb") as f:
                _names, header_end = _header(f, delimiter)

            def spans() -> Iterator[tuple[int, int, str | None]]:
                with open(path, "rb") as f:
                    f.seek(header_end)
                    lines = _Lines(f, header_end)
                    reader = csv.reader(lines, delimiter=delimiter, strict=True)
                    while True:
                        start = lines.position
                        try:
                            row = next(reader, None)
                        except (csv.Error, UnicodeDecodeError):
                            return  # torn by a crash
                        if row is None or not lines.last.endswith(b"\n"):
                            return
                        if row:
                            yield start, lines.position, row[0] or None

            return header_end, spans()

        return scan
