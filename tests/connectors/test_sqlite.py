"""The SQLite connector against real database files."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import itertools
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncline.connectors._sql.options import DatabaseOptions
from syncline.connectors.sqlite import SPEC, SQLite, SqliteSettings
from syncline.sdk import registry
from syncline.sdk.env import Env
from syncline.sdk.errors import ConfigError, PermanentError, RecordsError, RetryableError
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

UTC = dt.UTC
T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def connector(path: Path, busy_timeout: float = 10.0, **options: Any) -> SQLite:
    settings = SqliteSettings(path=str(path), busy_timeout=busy_timeout)
    return SQLite(Env(MemorySettings(settings), http=None, options=DatabaseOptions(**options)))  # type: ignore[arg-type]


async def read_all(
    make: Any, since: dt.datetime | None = None, schema: Object | None = None
) -> list[Record]:
    """Every page of a read, each page through a new connector instance."""
    found: list[Record] = []
    cursor = None
    for _ in range(500):
        page = await make().records("t", since, cursor, schema or Object([]))
        found += page.records
        if page.done:
            return found
        cursor = page.cursor
    raise AssertionError("the read never ended")


async def upsert(conn: SQLite, items: list[Any], schema: Object) -> Any:
    records = records_from(items)
    try:
        await conn.upsert("t", records, schema)
    except Exception as exc:
        return report(records, exc)
    return report(records)


def sql(path: Path, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute(statement, params).fetchall()
        db.commit()
        return rows
    finally:
        db.close()


def test_registered_as_a_database_source_and_destination() -> None:
    entry = registry.get("sqlite")
    assert entry.cls is SQLite
    assert SPEC.source_targets() == ("*",) and SPEC.destination_targets() == ("*",)
    registry.check_class(SPEC, SQLite)


async def test_schema_maps_declared_types(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(
        db,
        """CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL, flag BOOLEAN,
        n BIGINT, x DOUBLE, price DECIMAL(10,2), at DATETIME, day DATE, clock TIME, yr YEAR,
        u UUID, ip INET, doc JSON, blob BLOB, anything, "First Name" TEXT)""",
    )
    schema = await connector(db, table="t").record_schema("t", Role.SOURCE)
    kinds = {p.name: p.type for p in schema.properties}
    assert kinds == {
        "id": Int(),
        "name": String(),
        "flag": Boolean(),
        "n": Int(),
        "x": Float(),
        "price": Decimal(10, 2),
        "at": DateTime(),
        "day": Date(),
        "clock": Time(),
        "yr": Year(),
        "u": UUID(),
        "ip": IP(),
        "doc": JSON(),
        "anything": JSON(),
        "First_Name": String(),
    }
    assert not schema.property("name").nullable and schema.property("flag").nullable
    destination = await connector(db, table="t").record_schema("t", Role.DESTINATION)
    assert "id" not in destination.names() and "name" in destination.names()
    renamed = await connector(db, table="t", columns={"full_name": "First Name"}).record_schema(
        "t", Role.SOURCE
    )
    assert "full_name" in renamed.names() and "First_Name" not in renamed.names()


async def test_schema_of_a_query(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE people (id TEXT PRIMARY KEY, born DATE, score REAL)")
    conn = connector(db, query="SELECT id, born, score * 2 AS double_score FROM people;")
    schema = await conn.record_schema("t", Role.SOURCE)
    assert [(p.name, p.type) for p in schema.properties] == [
        ("id", String()),
        ("born", Date()),
        ("double_score", JSON()),
    ]


async def test_missing_table_and_columns_are_config_errors(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id TEXT PRIMARY KEY, at TEXT)")
    with pytest.raises(ConfigError, match="'nope' does not exist"):
        await connector(db, table="nope").record_schema("t", Role.SOURCE)
    with pytest.raises(ConfigError, match="no column 'changed'"):
        await connector(db, table="t", updated_at="changed").records("t", None, None, Object([]))
    with pytest.raises(ConfigError, match="no SQLite database file"):
        await connector(tmp_path / "absent.db", table="t").records("t", None, None, Object([]))
    assert not (tmp_path / "absent.db").exists()


_counter = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=0, max_size=30),
    page_size=st.integers(1, 7),
    since=st.none() | st.integers(0, 4),
)
def test_keyset_pages_read_every_row_once_with_ties(
    tmp_path: Path, rows: list[tuple[int, bool]], page_size: int, since: int | None
) -> None:
    """Many rows share an updated_at; pages of any size never skip or repeat a row."""
    db = tmp_path / f"k{next(_counter)}.db"
    sql(db, "CREATE TABLE t (id TEXT PRIMARY KEY, at DATETIME, v INTEGER)")
    db_rows = [
        (f"k{i:03d}", None if null else (T0 + dt.timedelta(seconds=s)).isoformat(), i)
        for i, (s, null) in enumerate(rows)
    ]
    conn = sqlite3.connect(db)
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", db_rows)
    conn.commit()
    conn.close()

    def make() -> SQLite:
        return connector(db, table="t", updated_at="at", page_size=page_size)

    since_at = None if since is None else T0 + dt.timedelta(seconds=since)
    found = asyncio.run(read_all(make, since_at))
    ids = [r.id for r in found]
    assert len(ids) == len(set(ids)), "a row was read twice"
    if since_at is None:
        assert set(ids) == {r[0] for r in db_rows}
    else:
        expected = {r[0] for r in db_rows if r[1] is not None and r[1] >= since_at.isoformat()}
        assert set(ids) == expected
    for record, row in ((r, next(x for x in db_rows if x[0] == r.id)) for r in found):
        assert record.updated_at == (None if row[1] is None else dt.datetime.fromisoformat(row[1]))
        assert record.attributes["v"] == row[2]
    # Within a phase, records come in (updated_at, key) order.
    stamped = [(r.updated_at, r.id) for r in found if r.updated_at is not None]
    assert stamped == sorted(stamped)


async def test_updated_at_as_unix_seconds_and_naive_text(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, at)")
    sql(
        db,
        "INSERT INTO t VALUES (1, ?), (2, ?), (3, ?)",
        (T0.timestamp(), "2024-05-01 13:00:00", 10),
    )
    found = await read_all(lambda: connector(db, table="t", updated_at="at"), T0)
    assert {r.id: r.updated_at for r in found} == {
        "1": T0,
        "2": T0 + dt.timedelta(hours=1),
    }


async def test_without_updated_at_every_read_is_full(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id INTEGER, name TEXT)")
    sql(db, "INSERT INTO t VALUES (3, 'c'), (1, 'a'), (NULL, 'no key'), (2, 'b')")
    found = await read_all(lambda: connector(db, table="t", page_size=2), T0)
    assert [(r.id, r.updated_at) for r in found] == [("1", None), ("2", None), ("3", None)]


async def test_reads_only_the_properties_asked_for(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id TEXT PRIMARY KEY, a TEXT, b TEXT)")
    sql(db, "INSERT INTO t VALUES ('1', 'x', 'y')")
    wanted = Object([Property("b", String())])
    found = await read_all(lambda: connector(db, table="t"), None, wanted)
    assert found[0].attributes == {"b": "y"}


async def test_a_cursor_of_another_table_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id TEXT PRIMARY KEY)")
    sql(db, "CREATE TABLE u (id TEXT PRIMARY KEY)")
    sql(db, "INSERT INTO t VALUES ('1'), ('2')")
    page = await connector(db, table="t", page_size=1).records("t", None, None, Object([]))
    assert page.cursor is not None and not page.done
    with pytest.raises(ConfigError, match="another table"):
        await connector(db, table="u", page_size=1).records("t", None, page.cursor, Object([]))


EVERY_KIND = Object(
    [
        Property("s", String(), nullable=True),
        Property("b", Boolean(), nullable=True),
        Property("i", Int(32), nullable=True),
        Property("f", Float(), nullable=True),
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
    "b": True,
    "i": -7,
    "f": 0.1,
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


async def test_create_table_from_every_kind_and_read_it_back(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    conn = connector(db, table="t", create_table=True)
    assert await conn.record_schema("t", Role.DESTINATION) == Object([])
    outcome = await upsert(conn, [("r1", VALUES), ("r2", dict.fromkeys(VALUES))], EVERY_KIND)
    assert outcome.error is None and len(outcome.succeeded) == 2
    declared = {row[1]: row[2] for row in sql(db, "PRAGMA table_info(t)")}
    assert declared["id"] == "TEXT" and declared["d"] == "DECIMAL_TEXT(12,4)"
    assert sql(db, "PRAGMA journal_mode") == [("wal",)]
    stored = sql(db, "SELECT at, d FROM t WHERE id = 'r1'")
    assert stored == [("2024-01-02T03:04:05.000006Z", "12345678.1230")]

    found = await read_all(lambda: connector(db, table="t"))
    validate = compile(EVERY_KIND)
    by_id = {r.id: r for r in found}
    values = {k: v for k, v in by_id["r1"].attributes.items() if k != "id"}
    assert validate(values) == VALUES
    assert all(v is None for k, v in by_id["r2"].attributes.items() if k != "id")


async def test_merge_creates_then_updates_only_given_columns(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT, email TEXT, n INTEGER)")
    schema = Object(
        [
            Property("name", String(), nullable=True),
            Property("email", String(), nullable=True),
            Property("n", Int(), nullable=True),
        ]
    )
    conn = connector(db, table="t")
    await upsert(
        conn, [("1", {"name": "a", "email": "a@x", "n": 1}), ("2", {"name": "b", "n": 2})], schema
    )
    outcome = await upsert(
        conn, [("1", {"n": 10}), ("3", {"name": "c", "email": "c@x", "n": 3})], schema
    )
    assert outcome.error is None
    assert sql(db, "SELECT id, name, email, n FROM t ORDER BY id") == [
        ("1", "a", "a@x", 10),
        ("2", "b", None, 2),
        ("3", "c", "c@x", 3),
    ]


async def test_batch_size_bounds_one_call(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    conn = connector(db, table="t", create_table=True, batch_size=3)
    schema = Object([Property("n", Int(), nullable=True)])
    outcome = await upsert(conn, [(str(i), {"n": i}) for i in range(5)], schema)
    assert len(outcome.succeeded) == 3 and len(outcome.remaining) == 2
    assert sql(db, "SELECT count(*) FROM t") == [(3,)]


async def test_rejected_rows_fail_alone_with_their_index(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(
        db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, "
        "age INTEGER CHECK (age >= 0))",
    )
    sql(db, "INSERT INTO t VALUES (100, 'taken@x', 1)")
    schema = Object(
        [Property("email", String(), nullable=True), Property("age", Int(), nullable=True)]
    )
    items = [
        ("1", {"email": "a@x", "age": 1}),
        ("", {"email": "no-id@x", "age": 1}),  # discarded: no ID
        ("2", {"email": None, "age": 1}),  # NOT NULL
        ("not-a-number", {"email": "c@x", "age": 1}),  # discarded: key is INTEGER
        ("3", {"email": "d@x", "age": -5}),  # CHECK
        ("4", {"email": "taken@x", "age": 1}),  # UNIQUE on email
        ("5", {"email": "e@x", "age": 2}),
    ]
    outcome = await upsert(connector(db, table="t"), items, schema)
    assert isinstance(outcome.error, RecordsError)
    assert sorted(outcome.error.errors) == [1, 2, 3]
    assert [r.id for r, _ in outcome.failed] == ["2", "3", "4"]
    assert [r.id for r in outcome.succeeded] == ["1", "5"]
    assert [r.id for r, _ in outcome.discarded] == ["", "not-a-number"]
    messages = " ".join(str(e) for _, e in outcome.failed)
    assert "NOT NULL" in messages and "CHECK" in messages and "UNIQUE" in messages
    assert "taken@x" not in messages and "d@x" not in messages
    assert all(isinstance(e, PermanentError) for _, e in outcome.failed + outcome.discarded)
    assert sql(db, "SELECT id FROM t ORDER BY id") == [(1,), (5,), (100,)]


async def test_write_needs_a_unique_key_and_known_columns(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id TEXT, name TEXT)")
    schema = Object([Property("name", String()), Property("extra", Int())])
    with pytest.raises(ConfigError, match="neither the primary key nor"):
        await connector(db, table="t").upsert("t", records_from([("1", {"name": "a"})]), schema)
    sql(db, "CREATE UNIQUE INDEX t_id ON t (id)")
    with pytest.raises(ConfigError, match=r"no column.*'extra'"):
        await connector(db, table="t").upsert("t", records_from([("1", {"name": "a"})]), schema)
    conn = connector(db, table="t", create_table=True)
    outcome = await upsert(conn, [("1", {"name": "a", "extra": 5})], schema)
    assert outcome.error is None
    assert sql(db, "SELECT id, name, extra FROM t") == [("1", "a", 5)]


async def test_missing_table_without_create_table(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE other (id TEXT PRIMARY KEY)")
    with pytest.raises(ConfigError, match=r"does not exist.*create_table"):
        await connector(db, table="t").upsert("t", records_from([("1", {})]), Object([]))


async def test_a_locked_database_is_retryable(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        conn = connector(db, busy_timeout=0.05, table="t")
        schema = Object([Property("n", Int())])
        with pytest.raises(RetryableError, match="locked"):
            await conn.upsert("t", records_from([("1", {"n": 1})]), schema)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    outcome = await upsert(conn, [("1", {"n": 1})], schema)
    assert outcome.error is None


async def test_a_replaced_file_is_reopened(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id TEXT PRIMARY KEY)")
    sql(db, "INSERT INTO t VALUES ('old')")
    conn = connector(db, table="t")
    assert [r.id for r in (await conn.records("t", None, None, Object([]))).records] == ["old"]
    os.remove(db)
    sql(db, "CREATE TABLE t (id TEXT PRIMARY KEY)")
    sql(db, "INSERT INTO t VALUES ('new')")
    assert [r.id for r in (await conn.records("t", None, None, Object([]))).records] == ["new"]


async def test_check_reports_what_is_wrong(tmp_path: Path) -> None:
    good = tmp_path / "good.db"
    sql(good, "CREATE TABLE t (id TEXT)")
    assert await connector(good, table="t").check() == []

    problems = await connector(tmp_path / "absent.db", table="t").check()
    assert [p.field for p in problems] == ["path"] and "file not found" in problems[0].message
    assert not (tmp_path / "absent.db").exists()

    problems = await connector(tmp_path, table="t").check()
    assert "directory" in problems[0].message

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 100)
    problems = await connector(garbage, table="t").check()
    assert "not a valid SQLite database" in problems[0].message


def test_settings_refuse_an_in_memory_database() -> None:
    with pytest.raises(ValueError, match="in-memory"):
        SqliteSettings(path=":memory:")
    with pytest.raises(ValueError, match="exactly one of 'table' or 'query'"):
        DatabaseOptions(table="t", query="SELECT 1")


async def test_delete_removes_the_rows_of_the_given_ids_only(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    conn = connector(db, table="t", create_table=True)
    schema = Object([Property("n", Int())])
    for start in (0, 600):
        items = [(f"r{i}", {"n": i}) for i in range(start, start + 600)]
        assert (await upsert(conn, items, schema)).error is None
    gone = [f"r{i}" for i in range(0, 1200, 2)]  # 600 IDs: more than one DELETE chunk
    await conn.delete("t", [*gone, "absent", "", "r0"])
    left = {row[0] for row in sql(db, "SELECT id FROM t")}
    assert left == {f"r{i}" for i in range(1, 1200, 2)}
    await conn.delete("t", gone)  # again: deleting absent rows is a no-op
    assert len(sql(db, "SELECT id FROM t")) == 600


async def test_delete_with_an_integer_key_skips_ids_that_are_not_integers(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    sql(db, "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    await connector(db, table="t").delete("t", ["1", "x", "99999999999999999999999", "03"])
    assert sql(db, "SELECT id FROM t") == [(2,)]


async def test_delete_without_a_database_or_table_has_nothing_to_do(tmp_path: Path) -> None:
    absent = tmp_path / "absent.db"
    await connector(absent, table="t").delete("t", ["1"])
    assert not absent.exists()
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE other (id TEXT PRIMARY KEY)")
    await connector(db, table="t").delete("t", ["1"])
    sql(db, "CREATE TABLE t (code TEXT PRIMARY KEY)")
    with pytest.raises(ConfigError, match="no key column 'id'") as info:
        await connector(db, table="t").delete("t", ["1"])
    assert info.value.field == "key"


async def test_delete_is_one_transaction(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id TEXT PRIMARY KEY)")
    sql(db, "INSERT INTO t VALUES ('a'), ('b')")
    # A trigger refusing the second chunk's delete rolls the first one back too.
    sql(
        db,
        "CREATE TRIGGER keep BEFORE DELETE ON t WHEN old.id = 'b' "
        "BEGIN SELECT RAISE(ABORT, 'kept'); END",
    )
    ids = ["a"] + [f"x{i}" for i in range(600)] + ["b"]
    with pytest.raises(PermanentError, match="kept"):
        await connector(db, table="t").delete("t", ids)
    assert sql(db, "SELECT id FROM t ORDER BY id") == [("a",), ("b",)]


async def test_finish_closes_the_connection_kept_for_the_run(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    conn = connector(db, table="t", create_table=True)
    schema = Object([Property("n", Int())])
    for batch in range(3):
        items = [(f"r{batch}-{i}", {"n": i}) for i in range(10)]
        assert (await upsert(conn, items, schema)).error is None
    # The file is in WAL mode and the kept connection holds its WAL open ...
    wal = tmp_path / "d.db-wal"
    assert wal.exists()
    await conn.finish("t")
    # ... until the last connection closes: SQLite checkpoints and removes it.
    assert not wal.exists()
    assert len(sql(db, "SELECT id FROM t")) == 30
    await conn.finish("t")  # idempotent
    assert (await upsert(conn, [("again", {"n": 1})], schema)).error is None
    await conn.aclose()
    assert len(sql(db, "SELECT id FROM t")) == 31


async def test_a_record_without_some_properties_in_a_batch_of_full_ones(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    sql(db, "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER CHECK (n >= 0), seen DATETIME)")
    sql(db, "INSERT INTO t VALUES ('2', 5, '2020-01-01T00:00:00.000000Z')")
    schema = Object([Property("n", Int()), Property("seen", DateTime())])
    items = [
        ("1", {"n": 1, "seen": T0}),
        ("2", {"n": 2}),  # no 'seen': its column is left as it is
        ("3", {"n": -3, "seen": T0}),  # refused by the CHECK constraint
        ("4", {"n": 4, "seen": T0}),
    ]
    outcome = await upsert(connector(db, table="t"), items, schema)
    assert [r.id for r, _ in outcome.failed] == ["3"]
    assert "CHECK" in str(outcome.failed[0][1])
    assert sql(db, "SELECT id, n, seen FROM t ORDER BY id") == [
        ("1", 1, "2024-05-01T12:00:00.000000Z"),
        ("2", 2, "2020-01-01T00:00:00.000000Z"),
        ("4", 4, "2024-05-01T12:00:00.000000Z"),
    ]


_WHOLE_SECONDS = st.datetimes(
    min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2200, 1, 1)
).map(lambda d: d.replace(microsecond=0))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            # Whole seconds and with microseconds, in UTC, naive, or at an offset.
            st.tuples(
                st.one_of(_WHOLE_SECONDS, st.datetimes(min_value=dt.datetime(1970, 1, 1))),
                st.sampled_from([dt.UTC, None, dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
            ).map(lambda pair: pair[0].replace(tzinfo=pair[1])),
        ),
        max_size=8,
    )
)
def test_a_column_of_datetimes_is_written_as_each_value_alone(values: list[Any]) -> None:
    # The column-at-once formatting takes shortcuts when every value has the
    # same width; each value must still get exactly the text it gets alone.
    from syncline.connectors.sqlite._types import iso_utc, iso_utc_many

    assert iso_utc_many(values) == [None if v is None else iso_utc(v) for v in values]
