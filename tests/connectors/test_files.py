"""The JSON Lines and CSV connectors against real files."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncline.connectors.files import _partial
from syncline.connectors.files._options import CsvOptions, FileOptions, FileSettings
from syncline.connectors.files.csvfile import Csv
from syncline.connectors.files.jsonl import JsonLines
from syncline.sdk import registry
from syncline.sdk.env import Env
from syncline.sdk.errors import ConfigError
from syncline.sdk.records import Record
from syncline.sdk.testing import records_from, report
from syncline.sdk.testing.settings import MemorySettings
from syncline.types import (
    JSON,
    Array,
    Boolean,
    Date,
    DateTime,
    Decimal,
    Float,
    Int,
    Map,
    Object,
    Property,
    Role,
    String,
    compile,
    to_json,
)

UTC = dt.UTC
T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def jsonl(directory: Path, **options: Any) -> JsonLines:
    options.setdefault("path", "out.jsonl")
    env = Env(
        MemorySettings(FileSettings(directory=str(directory))),
        http=None,
        options=FileOptions(**options),
    )
    return JsonLines(env)  # type: ignore[arg-type]


def csv_file(directory: Path, **options: Any) -> Csv:
    options.setdefault("path", "out.csv")
    env = Env(
        MemorySettings(FileSettings(directory=str(directory))),
        http=None,
        options=CsvOptions(**options),
    )
    return Csv(env)  # type: ignore[arg-type]


async def write(conn: Any, items: list[Any], schema: Object) -> Any:
    records = records_from(items)
    try:
        await conn.upsert("t", records, schema)
    except Exception as exc:
        return report(records, exc)
    return report(records)


async def read_all(
    make: Any, since: dt.datetime | None = None, schema: Object | None = None
) -> list[Record]:
    found: list[Record] = []
    cursor = None
    for _ in range(500):
        page = await make().records("t", since, cursor, schema or Object([]))
        found += page.records
        if page.done:
            return found
        cursor = page.cursor
    raise AssertionError("the read never ended")


SCHEMA = Object(
    [
        Property("name", String(), nullable=True),
        Property("active", Boolean(), nullable=True),
        Property("n", Int(), nullable=True),
        Property("score", Float(), nullable=True),
        Property("price", Decimal(10, 2), nullable=True),
        Property("updated", DateTime(), nullable=True),
        Property("born", Date(), nullable=True),
        Property("tags", Array(String()), nullable=True),
        Property("address", Object([Property("city", String())]), nullable=True),
        Property("extra", Map(Int()), nullable=True),
        Property("raw", JSON(), nullable=True),
    ]
)

ROW = {
    "name": 'Zoë "Z", \nline two',
    "active": True,
    "n": 42,
    "score": 0.25,
    "price": decimal.Decimal("19.90"),
    "updated": dt.datetime(2024, 5, 1, 12, 0, 0, 500, tzinfo=UTC),
    "born": dt.date(1990, 12, 31),
    "tags": ["a", "b"],
    "address": {"city": "Turin"},
    "extra": {"k": 1},
    "raw": [1, {"x": None}],
}


def test_registered_as_file_sources_and_destinations() -> None:
    assert registry.get("jsonl").cls is JsonLines
    assert registry.get("csv").cls is Csv


async def test_jsonl_writes_canonical_lines_and_reads_them_back(tmp_path: Path) -> None:
    conn = jsonl(
        tmp_path,
        declared_schema={
            **to_json(SCHEMA),
            "properties": [
                *to_json(SCHEMA)["properties"],
                {"name": "id", "type": {"kind": "string"}},
            ],
        },
    )
    outcome = await write(conn, [("1", ROW), ("2", dict.fromkeys(ROW))], SCHEMA)
    assert outcome.error is None
    assert not (tmp_path / "out.jsonl").exists(), "the file appears only when the run finishes"
    await conn.finish("t")
    lines = (tmp_path / "out.jsonl").read_bytes().splitlines()
    first = orjson.loads(lines[0])
    assert next(iter(first)) == "id" and first["id"] == "1"
    assert first["updated"] == "2024-05-01T12:00:00.000500Z"
    assert first["price"] == "19.90" and first["born"] == "1990-12-31"
    found = await read_all(lambda: jsonl(tmp_path, page_size=1))
    assert [r.id for r in found] == ["1", "2"]
    schema = await conn.record_schema("t", Role.SOURCE)
    validate = compile(schema)
    assert validate(found[0].attributes) == {**ROW, "id": "1"}


async def test_csv_writes_a_header_from_the_schema_and_reads_it_back(tmp_path: Path) -> None:
    conn = csv_file(tmp_path)
    outcome = await write(conn, [("1", ROW), ("2", {"n": 7})], SCHEMA)
    assert outcome.error is None
    await conn.finish("t")
    text = (tmp_path / "out.csv").read_text()
    assert (
        text.splitlines()[0] == "id,name,active,n,score,price,updated,born,tags,address,extra,raw"
    )
    assert "2024-05-01T12:00:00.000500Z" in text and ",19.90," in text and ",true," in text
    assert text.endswith("2,,,7,,,,,,,,\n")
    found = await read_all(lambda: csv_file(tmp_path, page_size=1), schema=SCHEMA)
    assert [r.id for r in found] == ["1", "2"]
    assert compile(SCHEMA)(found[0].attributes) == ROW
    assert found[1].attributes == {**dict.fromkeys(ROW), "n": 7}


async def test_inference_rules(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text(
        "\n".join(
            orjson.dumps(row).decode()
            for row in [
                {
                    "id": 1,
                    "i": 1,
                    "f": 1,
                    "b": True,
                    "at": "2024-01-01T00:00:00Z",
                    "day": "2024-01-01",
                    "mixed": "2024-01-01",
                    "obj": {"a": 1},
                    "arr": [1, 2],
                    "weird": {"not valid": 1},
                    "First Name": "x",
                    "nothing": None,
                },
                {
                    "id": 2,
                    "i": 2,
                    "f": 2.5,
                    "b": False,
                    "at": "2024-01-02T00:00:00+02:00",
                    "day": "2024-01-02",
                    "mixed": "2024-01-01T10:00:00",
                    "obj": {"a": 2, "b": "s"},
                    "arr": [],
                    "weird": {"x": 1},
                    "nothing": None,
                    "sometimes": "y",
                    "day_time": "not a date",
                },
            ]
        )
        + "\n\n"
    )
    schema = await jsonl(tmp_path, path="in.jsonl").record_schema("t", Role.SOURCE)
    types = {p.name: p.type for p in schema.properties}
    assert types["id"] == Int() and types["i"] == Int() and types["f"] == Float()
    assert types["b"] == Boolean() and types["at"] == DateTime() and types["day"] == Date()
    assert types["mixed"] == DateTime()
    assert types["obj"] == Object(
        [Property("a", Int()), Property("b", String(), read_optional=True)]
    )
    assert types["arr"] == Array(Int()) and types["weird"] == JSON()
    assert types["First_Name"] == String() and types["nothing"] == JSON()
    assert schema.property("nothing").nullable and schema.property("sometimes").read_optional
    assert types["day_time"] == String()

    (tmp_path / "in.csv").write_text(
        "id,zip,n,x,flag,at,day,doc,note\n"
        '1,007,12,1.5,TRUE,2024-01-01T00:00:00Z,2024-01-01,"{""a"": 1}",\n'
        '2,010,-3,2,false,2024-01-02 10:00,2024-01-02,"{""a"": 2}",hello\n'
    )
    schema = await csv_file(tmp_path, path="in.csv").record_schema("t", Role.SOURCE)
    types = {p.name: p.type for p in schema.properties}
    assert types == {
        "id": Int(),
        "zip": String(),
        "n": Int(),
        "x": Float(),
        "flag": Boolean(),
        "at": DateTime(),
        "day": Date(),
        "doc": Object([Property("a", Int())]),
        "note": String(),
    }
    assert schema.property("note").nullable and not schema.property("n").nullable


async def test_jsonl_pages_resume_by_byte_offset_in_a_new_instance(tmp_path: Path) -> None:
    lines = [
        b'{"id": "a", "v": 1}',
        b"",
        b"not json",
        b'{"v": "no id"}',
        b'{"id": 5, "v": 2, "extra field": true}',
        b'{"id": "c", "v": 3}',
    ]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines))  # no final newline
    found = await read_all(lambda: jsonl(tmp_path, path="in.jsonl", page_size=2))
    assert [r.id for r in found] == ["a", "", "", "5", "c"]
    assert "not a JSON object" in str(found[1].error) and "no value in the key field" in str(
        found[2].error
    )
    assert found[3].attributes == {"id": 5, "v": 2, "extra_field": True}
    wanted = Object([Property("v", Int())])
    found = await read_all(lambda: jsonl(tmp_path, path="in.jsonl"), schema=wanted)
    assert [r.attributes for r in found if r.error is None] == [{"v": 1}, {"v": 2}, {"v": 3}]


async def test_csv_rows_with_problems_become_record_errors(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_bytes(
        b'\xef\xbb\xbfid,name\n1,a\n2,b,extra\n,no id\n\n3,"multi\nline"\n'
    )
    found = await read_all(lambda: csv_file(tmp_path, path="in.csv", page_size=2))
    assert [(r.id, r.attributes) for r in found if r.error is None] == [
        ("1", {"id": 1, "name": "a"}),
        ("3", {"id": 3, "name": "multi\nline"}),
    ]
    errors = [str(r.error) for r in found if r.error is not None]
    assert "has 3 cells; the header has 2" in errors[0] and "no value in the key field" in errors[1]
    with pytest.raises(ConfigError, match="no key column 'nope'"):
        await csv_file(tmp_path, path="in.csv", key="nope").records("t", None, None, Object([]))


@pytest.mark.parametrize("make", [jsonl, csv_file])
async def test_updated_at_filters_older_records(tmp_path: Path, make: Any) -> None:
    schema = Object([Property("changed", DateTime(), nullable=True)])
    conn = make(tmp_path, updated_at="changed")
    items = [
        ("old", {"changed": T0 - dt.timedelta(seconds=1)}),
        ("same", {"changed": T0}),
        ("unknown", {"changed": None}),
        ("new", {"changed": T0 + dt.timedelta(days=1)}),
    ]
    await write(conn, items, schema)
    await conn.finish("t")
    found = await read_all(lambda: make(tmp_path, updated_at="changed"), T0)
    assert [(r.id, r.updated_at) for r in found] == [
        ("same", T0),
        ("unknown", None),
        ("new", T0 + dt.timedelta(days=1)),
    ]


async def test_finish_is_idempotent_and_a_new_run_replaces_the_file(tmp_path: Path) -> None:
    schema = Object([Property("n", Int())])
    conn = jsonl(tmp_path)
    await conn.finish("t")
    assert not (tmp_path / "out.jsonl").exists()
    await write(conn, [("1", {"n": 1})], schema)
    await conn.finish("t")
    await conn.finish("t")
    assert (tmp_path / "out.jsonl").read_text() == '{"id":"1","n":1}\n'
    await write(conn, [("2", {"n": 2}), ("", {"n": 3})], schema)
    assert (tmp_path / "out.jsonl").read_text() == '{"id":"1","n":1}\n'
    await conn.finish("t")
    assert (tmp_path / "out.jsonl").read_text() == '{"id":"2","n":2}\n{"id":null,"n":3}\n'


@pytest.mark.parametrize("make", [jsonl, csv_file])
async def test_a_record_written_twice_in_a_run_keeps_its_last_version(
    tmp_path: Path, make: Any
) -> None:
    schema = Object([Property("n", Int())])
    conn = make(tmp_path)
    await write(conn, [("a", {"n": 1}), ("b", {"n": 1})], schema)
    await write(make(tmp_path), [("c", {"n": 2}), ("a", {"n": 2})], schema)
    await conn.finish("t")
    found = await read_all(lambda: make(tmp_path))
    assert [(r.id, r.attributes["n"]) for r in found] == [("b", 1), ("c", 2), ("a", 2)]


def crash(partial: Path, torn: bytes) -> None:
    """What a kill -9 mid-write leaves: a torn tail, and a process that forgot everything."""
    with open(partial, "ab") as f:
        f.write(torn)
    _partial._states.clear()


@pytest.mark.parametrize(
    ("make", "torn"),
    [(jsonl, b'{"id":"b3-0","n":'), (csv_file, b'b3-0,"multi\nline cut')],
)
async def test_a_resumed_run_leaves_one_line_per_record(
    tmp_path: Path, make: Any, torn: bytes
) -> None:
    schema = Object([Property("n", Int()), Property("note", String())])

    def batch(b: int, version: int) -> list[Any]:
        return [(f"b{b}-{j}", {"n": version, "note": f"multi\nline {b}"}) for j in range(3)]

    conn = make(tmp_path)
    path = tmp_path / conn.env.options.path
    for b in range(3):
        await write(conn, batch(b, 1), schema)
    # Batch 2 was written but not checkpointed; batch 3 was being written.
    crash(Path(str(path) + ".partial"), torn)
    resumed = make(tmp_path)
    for b, version in ((2, 2), (3, 2), (4, 2)):
        outcome = await write(resumed, batch(b, version), schema)
        assert outcome.error is None
    await resumed.finish("t")
    found = await read_all(lambda: make(tmp_path))
    assert len(found) == 15 and all(r.error is None for r in found)
    assert {r.id for r in found} == {f"b{b}-{j}" for b in range(5) for j in range(3)}
    assert {r.id: r.attributes["n"] for r in found if r.id.startswith("b2")} == dict.fromkeys(
        ["b2-0", "b2-1", "b2-2"], 2
    )
    leftovers = await asyncio.to_thread(lambda: [p.name for p in tmp_path.iterdir()])
    assert sorted(leftovers) == [path.name]


def test_compaction_ranges_join_when_they_touch() -> None:
    ranges = [(0, 0), (0, 5), (5, 9), (12, 15), (15, 15), (20, 21)]
    assert list(_partial._adjacent(ranges)) == [(0, 9), (12, 15), (20, 21)]
    assert list(_partial._adjacent([(0, 0)])) == []


@settings(max_examples=60, deadline=None)
@given(
    header=st.sampled_from([b"", b"id,n\n"]),
    ids=st.lists(st.sampled_from(["a", "b", "c", "d", None]), max_size=40),
    chunk=st.integers(min_value=1, max_value=40),
)
def test_compaction_keeps_the_last_line_of_each_id_and_every_line_without_one(
    tmp_path_factory: pytest.TempPathFactory, header: bytes, ids: list[str | None], chunk: int
) -> None:
    lines = [f"{record_id or ''},{n}\n".encode() for n, record_id in enumerate(ids)]
    partial = tmp_path_factory.mktemp("compact") / "out.csv.partial"
    partial.write_bytes(header + b"".join(lines))

    def entries(path: str) -> Any:
        spans = []
        position = len(header)
        for line, record_id in zip(lines, ids, strict=True):
            spans.append((position, position + len(line), record_id))
            position += len(line)
        return len(header), iter(spans)

    last = {record_id: n for n, record_id in enumerate(ids) if record_id is not None}
    expected = [
        line
        for n, (line, i) in enumerate(zip(lines, ids, strict=True))
        if i is None or last[i] == n
    ]
    original = _partial._COPY_CHUNK
    _partial._COPY_CHUNK = chunk  # ranges copied in several reads, too
    try:
        _partial._compact(str(partial), entries)
    finally:
        _partial._COPY_CHUNK = original
    assert partial.read_bytes() == header + b"".join(expected)


async def test_a_partial_file_with_other_columns_is_refused(tmp_path: Path) -> None:
    conn = csv_file(tmp_path)
    await write(conn, [("1", {"a": 1})], Object([Property("a", Int())]))
    _partial._states.clear()
    with pytest.raises(ConfigError, match="other columns"):
        await csv_file(tmp_path).upsert(
            "t", records_from([("2", {"b": 1})]), Object([Property("b", Int())])
        )


async def test_values_that_cannot_be_encoded_fail_alone(tmp_path: Path) -> None:
    schema = Object([Property("n", JSON())])
    outcome = await write(
        jsonl(tmp_path), [("1", {"n": 1}), ("2", {"n": 2**70}), ("3", {"n": 3})], schema
    )
    assert sorted(outcome.error.errors) == [1]
    assert [r.id for r in outcome.succeeded] == ["1", "3"]
    outcome = await write(
        csv_file(tmp_path), [("1", {"n": 1}), ("2", {"n": {1: object()}})], schema
    )
    assert [r.id for r, _ in outcome.failed] == ["2"] and "'n'" in str(outcome.failed[0][1])


def test_jsonl_encodes_a_batch_the_same_line_by_line_or_all_at_once() -> None:
    # A batch where every record has attributes and none carries the key is
    # encoded column by column; any other batch record by record. Both must
    # give the same line for the same record.
    connector = jsonl(Path("."))
    _, encode = connector.encoder(FileOptions(path="out.jsonl"), SCHEMA)
    ids: list[str | None] = ["1", "2", None]
    rows = [ROW, {"n": 7}, {"name": "no id"}]
    together, failed = encode(ids, rows)
    assert failed == {}
    # An empty record sends the whole batch through the per-record path.
    apart, failed = encode([*ids, "4"], [*rows, {}])
    assert failed == {}
    assert apart == together + b'{"id":"4"}\n'
    lines = together.splitlines()
    assert orjson.loads(lines[0]) == {
        "id": "1",
        **orjson.loads(orjson.dumps(ROW, default=str, option=orjson.OPT_UTC_Z)),
    }
    assert [orjson.loads(line)["id"] for line in lines] == ["1", "2", None]
    # A record that carries the key: the key's value is the record ID, first.
    keyed, _ = encode(["5"], [{"id": "x", "n": 1}])
    assert keyed == b'{"id":"5","n":1}\n'


async def test_check_and_missing_files(tmp_path: Path) -> None:
    assert await jsonl(tmp_path).check() == []
    problems = await jsonl(tmp_path / "absent").check()
    assert [p.field for p in problems] == ["directory"] and "does not exist" in problems[0].message
    (tmp_path / "file").write_text("")
    assert "not a directory" in (await csv_file(tmp_path / "file").check())[0].message
    with pytest.raises(ConfigError, match="file not found"):
        await jsonl(tmp_path, path="nope.jsonl").records("t", None, None, Object([]))
    with pytest.raises(ConfigError, match="file not found"):
        await csv_file(tmp_path, path="nope.csv").record_schema("t", Role.SOURCE)
    with pytest.raises(ConfigError, match="empty"):
        (tmp_path / "empty.csv").write_text("")
        await csv_file(tmp_path, path="empty.csv").record_schema("t", Role.SOURCE)
    assert await jsonl(tmp_path).record_schema("t", Role.DESTINATION) == Object([])


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from syncline.connectors.files._options import FileOptions, FileSettings
    from syncline.connectors.files.jsonl import JsonLines
    from syncline.sdk.env import Env
    from syncline.sdk.testing import records_from
    from syncline.sdk.testing.settings import MemorySettings
    from syncline.types import Int, Object, Property, String

    SCHEMA = Object([Property("n", Int()), Property("pad", String())])

    async def main(directory):
        env = Env(MemorySettings(FileSettings(directory=directory)), None,
                  options=FileOptions(path="out.jsonl"))
        conn = JsonLines(env)
        for b in range(1_000_000):
            items = [(f"b{b}-{j}", {"n": b, "pad": "x" * 2000}) for j in range(50)]
            await conn.upsert("t", records_from(items), SCHEMA)
            print(b, flush=True)  # the engine's checkpoint of batch b

    asyncio.run(main(sys.argv[1]))
    """
)


def test_kill_minus_nine_then_resume(tmp_path: Path) -> None:
    """A writer killed at a random point resumes from its last checkpoint, exactly."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    checkpoint = -1
    for line in child.stdout:
        checkpoint = int(line)
        if checkpoint >= 5:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    for line in child.stdout:  # checkpoints printed before the kill landed
        checkpoint = int(line)
    child.stdout.close()
    schema = Object([Property("n", Int()), Property("pad", String())])
    last = checkpoint + 3

    async def resume() -> None:
        conn = jsonl(tmp_path)
        for b in range(checkpoint + 1, last + 1):
            items = [(f"b{b}-{j}", {"n": b, "pad": "y"}) for j in range(50)]
            assert (await write(conn, items, schema)).error is None
        await conn.finish("t")

    asyncio.run(resume())
    lines = (tmp_path / "out.jsonl").read_bytes().splitlines()
    ids = [orjson.loads(line)["id"] for line in lines]
    assert len(ids) == len(set(ids)) == 50 * (last + 1)
    assert set(ids) == {f"b{b}-{j}" for b in range(last + 1) for j in range(50)}


@pytest.mark.parametrize("make", [jsonl, csv_file])
async def test_memory_does_not_grow_with_the_records_written(tmp_path: Path, make: Any) -> None:
    # Neither the IDs written nor the final compaction are held in Python memory:
    # 12,000 IDs in a set would take about 1 MB, their spans in a list 2 MB.
    import gc
    import tracemalloc

    schema = Object([Property("n", Int())])
    conn = make(tmp_path, batch_size=2000)

    def batch(b: int) -> list[Any]:
        return [(f"record-{b}-{j}", {"n": j}) for j in range(2000)]

    tracemalloc.start()
    try:
        for b in range(6):
            assert (await write(conn, batch(b), schema)).error is None
            if b == 1:
                gc.collect()
                baseline = tracemalloc.get_traced_memory()[0]
        assert (await write(conn, batch(0), schema)).error is None  # duplicates: compaction
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - baseline
        tracemalloc.reset_peak()
        await conn.finish("t")
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert grown < 300_000, grown
    assert peak < 1_000_000, peak
    found = await read_all(lambda: make(tmp_path, page_size=20_000))
    assert len(found) == 12_000 and found[-1].id == "record-0-1999"
