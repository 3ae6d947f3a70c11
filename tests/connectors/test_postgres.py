"""The PostgreSQL connector against the real server the test suite starts."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import itertools
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncline.connectors._sql.options import DatabaseOptions
from syncline.connectors.postgres import SPEC, PostgreSQL, PostgresSettings
from syncline.sdk import registry
from syncline.sdk.env import Env
from syncline.sdk.errors import ConfigError, ConnectorError, RecordsError
from syncline.sdk.records import Record
from syncline.sdk.testing import records_from, report
from syncline.sdk.testing.settings import MemorySettings
from syncline.types import (
    IP,
    JSON,
    UUID,
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
    Time,
    Year,
    compile,
)

pytestmark = pytest.mark.postgres

UTC = dt.UTC
T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def connector(url: str, **options: Any) -> PostgreSQL:
    settings = PostgresSettings(url=url)  # type: ignore[arg-type]
    return PostgreSQL(Env(MemorySettings(settings), http=None, options=DatabaseOptions(**options)))  # type: ignore[arg-type]


async def run(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(plain(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def query(url: str, statement: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(plain(url))
    try:
        return [tuple(r) for r in await conn.fetch(statement)]
    finally:
        await conn.close()


async def read_all(make: Any, since: dt.datetime | None = None) -> list[Record]:
    found: list[Record] = []
    cursor = None
    for _ in range(500):
        page = await make().records("t", since, cursor, Object([]))
        found += page.records
        if page.done:
            return found
        cursor = page.cursor
    raise AssertionError("the read never ended")


async def upsert(conn: PostgreSQL, items: list[Any], schema: Object) -> Any:
    records = records_from(items)
    try:
        await conn.upsert("t", records, schema)
    except Exception as exc:
        return report(records, exc)
    return report(records)


def test_registered_as_a_database_source_and_destination() -> None:
    assert registry.get("postgres").cls is PostgreSQL
    assert SPEC.source_targets() == ("*",) and SPEC.destination_targets() == ("*",)


async def test_schema_maps_column_types(postgres_url: str) -> None:
    await run(
        postgres_url,
        "CREATE TYPE mood AS ENUM ('happy', 'sad')",
        """CREATE TABLE t (
            id bigint PRIMARY KEY, small int2 NOT NULL, n int4, f4 real, f8 float8,
            price numeric(10,2), free numeric, name varchar(20), note text, flag boolean,
            at timestamptz, local timestamp, day date, clock time, u uuid, doc jsonb,
            ip inet, tags text[], nums int4[], span interval, feeling mood, "First Name" text)""",
    )
    schema = await connector(postgres_url, table="t").record_schema("t", Role.SOURCE)
    assert {p.name: p.type for p in schema.properties} == {
        "id": Int(64),
        "small": Int(16),
        "n": Int(32),
        "f4": Float(32),
        "f8": Float(64),
        "price": Decimal(10, 2),
        "free": Decimal(76, 20),
        "name": String(max_length=20),
        "note": String(),
        "flag": Boolean(),
        "at": DateTime(),
        "local": DateTime(),
        "day": Date(),
        "clock": Time(),
        "u": UUID(),
        "doc": JSON(),
        "ip": IP(),
        "tags": Array(String()),
        "nums": Array(Int(32)),
        "span": String(),
        "feeling": String(),
        "First_Name": String(),
    }
    assert not schema.property("small").nullable and schema.property("n").nullable
    query = connector(postgres_url, query="SELECT id, at, price * 2 AS twice FROM t")
    assert (await query.record_schema("t", Role.SOURCE)).names() == ["id", "at", "twice"]


async def test_values_read_as_canonical(postgres_url: str) -> None:
    await run(
        postgres_url,
        """CREATE TABLE t (id uuid PRIMARY KEY, local timestamp, doc jsonb, ip inet,
            span interval, tags int4[])""",
        """INSERT INTO t VALUES ('0f8fad5b-d9cb-469f-a165-70867728950e', '2024-05-01 12:00',
            '{"a": [1, 2]}', '10.1.2.3/24', '1 day 02:00', '{1,2}')""",
    )
    (record,) = await read_all(lambda: connector(postgres_url, table="t"))
    assert record.id == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert record.attributes == {
        "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "local": T0,
        "doc": {"a": [1, 2]},
        "ip": "10.1.2.3",
        "span": "1 day 02:00:00",
        "tags": [1, 2],
    }


_tables = itertools.count()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.tuples(st.integers(0, 3), st.booleans()), max_size=20),
    page_size=st.integers(1, 6),
    since=st.none() | st.integers(0, 3),
)
def test_keyset_pages_read_every_row_once_with_ties(
    postgres_url: str, rows: list[tuple[int, bool]], page_size: int, since: int | None
) -> None:
    table = f"k{next(_tables)}"
    values = [
        (i, None if null else T0 + dt.timedelta(seconds=s)) for i, (s, null) in enumerate(rows)
    ]

    async def scenario() -> list[Record]:
        conn = await asyncpg.connect(plain(postgres_url))
        try:
            await conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, at timestamptz)")
            await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", values)
        finally:
            await conn.close()
        since_at = None if since is None else T0 + dt.timedelta(seconds=since)
        return await read_all(
            lambda: connector(postgres_url, table=table, updated_at="at", page_size=page_size),
            since_at,
        )

    found = asyncio.run(scenario())
    ids = [r.id for r in found]
    assert len(ids) == len(set(ids))
    if since is None:
        expected = {str(i) for i, _ in values}
    else:
        cut = T0 + dt.timedelta(seconds=since)
        expected = {str(i) for i, at in values if at is not None and at >= cut}
    assert set(ids) == expected
    assert all(r.updated_at == values[int(r.id)][1] for r in found)


async def test_since_on_a_timestamp_without_time_zone(postgres_url: str) -> None:
    await run(
        postgres_url,
        "CREATE TABLE t (id text PRIMARY KEY, at timestamp)",
        "INSERT INTO t VALUES ('old', '2024-05-01 11:59:59'), ('new', '2024-05-01 12:00:00')",
    )
    found = await read_all(lambda: connector(postgres_url, table="t", updated_at="at"), T0)
    assert [(r.id, r.updated_at) for r in found] == [("new", T0)]


EVERY_KIND = Object(
    [
        Property("s", String(), nullable=True),
        Property("b", Boolean(), nullable=True),
        Property("i8", Int(8), nullable=True),
        Property("i32", Int(32), nullable=True),
        Property("u64", Int(64, unsigned=True), nullable=True),
        Property("f", Float(32), nullable=True),
        Property("d", Decimal(12, 4), nullable=True),
        Property("at", DateTime(), nullable=True),
        Property("day", Date(), nullable=True),
        Property("clock", Time(), nullable=True),
        Property("yr", Year(), nullable=True),
        Property("u", UUID(), nullable=True),
        Property("j", JSON(), nullable=True),
        Property("ip", IP(), nullable=True),
        Property("tags", Array(String()), nullable=True),
        Property("address", Object([Property("city", String())]), nullable=True),
        Property("scores", Map(Int()), nullable=True),
    ]
)

VALUES = {
    "s": "Zoë",
    "b": False,
    "i8": -8,
    "i32": 2_000_000_000,
    "u64": 2**64 - 1,
    "f": 0.5,
    "d": decimal.Decimal("12345678.1230"),
    "at": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    "day": dt.date(2024, 2, 29),
    "clock": dt.time(23, 59, 58, 1),
    "yr": 1999,
    "u": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "j": {"nested": [1, "two", None]},
    "ip": "2001:db8::1",
    "tags": ["a", "b"],
    "address": {"city": "Turin"},
    "scores": {"x": 1},
}


async def test_create_table_from_every_kind_and_read_it_back(postgres_url: str) -> None:
    conn = connector(postgres_url, table="t", create_table=True)
    assert await conn.record_schema("t", Role.DESTINATION) == Object([])
    outcome = await upsert(conn, [("r1", VALUES), ("r2", dict.fromkeys(VALUES))], EVERY_KIND)
    assert outcome.error is None and len(outcome.succeeded) == 2
    types = dict(
        await query(
            postgres_url,
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't'",
        )
    )
    assert (
        types["id"] == "text"
        and types["u64"] == "numeric"
        and types["at"].startswith("timestamp with time zone")
    )
    found = await read_all(lambda: connector(postgres_url, table="t"))
    by_id = {r.id: r for r in found}
    values = {k: v for k, v in by_id["r1"].attributes.items() if k != "id"}
    assert compile(EVERY_KIND)(values) == VALUES
    assert all(v is None for k, v in by_id["r2"].attributes.items() if k != "id")


async def test_merge_creates_then_updates_only_given_columns(postgres_url: str) -> None:
    await run(postgres_url, "CREATE TABLE t (id text PRIMARY KEY, name text, n int, at timestamp)")
    schema = Object(
        [
            Property("name", String(), nullable=True),
            Property("n", Int(), nullable=True),
            Property("at", DateTime(), nullable=True),
        ]
    )
    conn = connector(postgres_url, table="t")
    await upsert(conn, [("1", {"name": "a", "n": 1, "at": T0}), ("2", {"name": "b"})], schema)
    outcome = await upsert(conn, [("1", {"n": 10}), ("2", {"at": "2024-05-01T12:00:00Z"})], schema)
    assert outcome.error is None
    assert await query(postgres_url, "SELECT id, name, n, at FROM t ORDER BY id") == [
        ("1", "a", 10, T0.replace(tzinfo=None)),
        ("2", "b", None, T0.replace(tzinfo=None)),
    ]


async def test_rejected_rows_fail_alone_with_their_index(postgres_url: str) -> None:
    await run(
        postgres_url,
        "CREATE TABLE t (id int PRIMARY KEY, email text NOT NULL UNIQUE, "
        "age int2 CHECK (age >= 0), code varchar(3))",
        "INSERT INTO t VALUES (100, 'taken@x', 1, 'a')",
    )
    schema = Object(
        [
            Property("email", String(), nullable=True),
            Property("age", Int(32), nullable=True),
            Property("code", String(), nullable=True),
        ]
    )
    items = [
        ("1", {"email": "a@x", "age": 1, "code": "ok"}),
        ("x", {"email": "bad-id@x", "age": 1, "code": "ok"}),  # discarded: key is int
        ("2", {"email": None, "age": 1, "code": "ok"}),  # NOT NULL
        ("3", {"email": "b@x", "age": -1, "code": "ok"}),  # CHECK
        ("4", {"email": "taken@x", "age": 1, "code": "ok"}),  # UNIQUE
        ("5", {"email": "c@x", "age": 40000, "code": "ok"}),  # out of int2's range
        ("6", {"email": "d@x", "age": 1, "code": "toolong"}),  # varchar(3)
        ("7", {"email": "e@x", "age": 2, "code": "ok"}),
    ]
    outcome = await upsert(connector(postgres_url, table="t"), items, schema)
    assert isinstance(outcome.error, RecordsError)
    assert sorted(outcome.error.errors) == [1, 2, 3, 4, 5]
    assert [r.id for r, _ in outcome.failed] == ["2", "3", "4", "5", "6"]
    assert [r.id for r in outcome.succeeded] == ["1", "7"]
    assert [r.id for r, _ in outcome.discarded] == ["x"]
    messages = {r.id: str(e) for r, e in outcome.failed}
    assert "not-null" in messages["2"] and "check constraint" in messages["3"]
    assert "unique constraint" in messages["4"] and "'age'" in messages["5"]
    assert "40000" not in messages["5"] and "taken@x" not in messages["4"]
    assert "toolong" not in messages["6"]
    assert await query(postgres_url, "SELECT id FROM t ORDER BY id") == [(1,), (7,), (100,)]


async def test_write_needs_a_unique_key(postgres_url: str) -> None:
    await run(postgres_url, "CREATE TABLE t (id text, name text)")
    schema = Object([Property("name", String())])
    with pytest.raises(ConfigError, match="neither the primary key nor"):
        await connector(postgres_url, table="t").upsert("t", records_from([("1", {})]), schema)


async def test_schema_qualified_table_and_columns_mapping(postgres_url: str) -> None:
    await run(
        postgres_url,
        "CREATE SCHEMA crm",
        'CREATE TABLE crm.people ("Person ID" text PRIMARY KEY, "E-mail" text)',
    )
    options = {"table": "crm.people", "key": "Person ID", "columns": {"email": "E-mail"}}
    conn = connector(postgres_url, **options)
    schema = await conn.record_schema("t", Role.DESTINATION)
    assert schema.names() == ["email"]
    outcome = await upsert(conn, [("p1", {"email": "a@x"})], schema)
    assert outcome.error is None
    found = await read_all(lambda: connector(postgres_url, **options))
    assert [(r.id, r.attributes) for r in found] == [("p1", {"Person_ID": "p1", "email": "a@x"})]


async def test_check_reports_what_is_wrong(postgres_server: Any, postgres_url: str) -> None:
    assert await connector(postgres_url, table="t").check() == []
    missing = PostgresSettings(
        host="127.0.0.1", port=postgres_server.port, database="nope", user="postgres"
    )
    problems = await PostgreSQL(Env(MemorySettings(missing), http=None)).check()  # type: ignore[arg-type]
    assert [p.field for p in problems] == ["database"] and "nope" in problems[0].message
    closed = PostgresSettings(
        host="127.0.0.1", port=1, database="x", user="postgres", password="s3cret-value"
    )
    problems = await PostgreSQL(Env(MemorySettings(closed), http=None)).check()  # type: ignore[arg-type]
    assert [p.field for p in problems] == ["host"]
    assert "s3cret-value" not in str(problems)


def test_settings_need_a_url_or_a_database_and_hide_the_url() -> None:
    with pytest.raises(ValueError, match="either 'url' or 'database'"):
        PostgresSettings()
    with pytest.raises(ValueError) as caught:
        PostgresSettings(url="mysql://u:hunter2@h/db")  # type: ignore[arg-type]
    assert "hunter2" not in str(caught.value)
    settings = PostgresSettings(url="postgresql://u:hunter2@db.example:6432/crm")  # type: ignore[arg-type]
    assert settings.where() == "db.example:6432/crm" and "hunter2" not in repr(settings)


async def test_delete_removes_the_rows_of_the_given_ids_only(postgres_url: str) -> None:
    conn = connector(postgres_url, table="t", create_table=True)
    schema = Object([Property("n", Int())])
    for start in (0, 600):
        items = [(f"r{i}", {"n": i}) for i in range(start, start + 600)]
        assert (await upsert(conn, items, schema)).error is None
    gone = [f"r{i}" for i in range(0, 1200, 2)]  # 600 IDs: more than one DELETE chunk
    await conn.delete("t", [*gone, "absent", "", "r0"])
    left = {row[0] for row in await query(postgres_url, "SELECT id FROM t")}
    assert left == {f"r{i}" for i in range(1, 1200, 2)}
    await conn.delete("t", gone)  # again: deleting absent rows is a no-op
    assert len(await query(postgres_url, "SELECT id FROM t")) == 600
    await connector(postgres_url, table="absent").delete("t", ["r1"])  # no table: nothing to do


async def test_delete_skips_ids_the_key_type_cannot_hold(postgres_url: str) -> None:
    await run(
        postgres_url,
        "CREATE TABLE n (id int4 PRIMARY KEY)",
        "INSERT INTO n VALUES (1), (2), (3)",
        "CREATE TABLE u (id uuid PRIMARY KEY)",
        "INSERT INTO u VALUES ('00000000-0000-0000-0000-000000000001'), "
        "('00000000-0000-0000-0000-000000000002')",
    )
    await connector(postgres_url, table="n").delete("n", ["1", "x", "9999999999", "03"])
    assert await query(postgres_url, "SELECT id FROM n") == [(2,)]
    bad = [f"not-a-uuid-{i}" for i in range(3)]
    await connector(postgres_url, table="u").delete(
        "u", [bad[0], "00000000-0000-0000-0000-000000000001", *bad[1:]]
    )
    assert [str(r[0]) for r in await query(postgres_url, "SELECT id FROM u")] == [
        "00000000-0000-0000-0000-000000000002"
    ]


async def test_delete_refused_by_a_constraint_fails_and_deletes_nothing(postgres_url: str) -> None:
    await run(
        postgres_url,
        "CREATE TABLE t (id text PRIMARY KEY)",
        "CREATE TABLE child (parent text REFERENCES t (id))",
        "INSERT INTO t VALUES ('a'), ('b')",
        "INSERT INTO child VALUES ('b')",
    )
    ids = ["a"] + [f"x{i}" for i in range(600)] + ["b"]
    with pytest.raises(ConnectorError):
        await connector(postgres_url, table="t").delete("t", ids)
    assert await query(postgres_url, "SELECT id FROM t ORDER BY id") == [("a",), ("b",)]
