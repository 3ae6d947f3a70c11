"""Validation throughput: Syncline's compiled validator vs jsonschema vs fastjsonschema.

Every contender checks the same deterministic contact records (25 properties:
strings with max lengths, an enum, e-mail patterns, datetimes as ISO strings and
as unix milliseconds, a date, a nested address object, an array of tags,
decimals, ints, booleans, a float, a UUID) against the same rules. Syncline also
normalizes: it returns a new dict with ``Decimal``, aware UTC ``datetime``,
``date`` and canonical UUID values; the JSON Schema validators only answer
valid/invalid. Contenders are interleaved chunk by chunk within each
repetition, and the median over repetitions is reported.

Run: ``.venv/bin/python bench/validate.py [--records 50000] [--repeat 5] [--chunk 1000]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import fastjsonschema
import jsonschema

from syncline import types as t

EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
PHONE = r"\+?[0-9 ()-]{7,31}"
COUNTRY = r"[A-Z]{2}"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
DATETIME_RE = DATE_RE + r"[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
STAGES = ["subscriber", "lead", "marketing_qualified", "sales_qualified", "opportunity", "customer"]
SOURCES = ["organic", "paid_search", "social", "referral", "email", "offline"]
CITIES = ["Lisboa", "Porto", "Berlin", "Zürich", "Montréal", "São Paulo", "Kraków", "Osaka"]
WORDS = ["vip", "newsletter", "beta", "churn-risk", "enterprise", "trial", "partner", "emea"]


def contact_schema() -> t.Object:
    """The 25-property contact record as a Syncline schema."""
    s = t.String
    address = t.Object(
        [
            t.Property("street", s(max_length=200)),
            t.Property("city", s(max_length=80)),
            t.Property("postal_code", s(max_length=16), nullable=True),
            t.Property("region", s(max_length=80), nullable=True),
            t.Property("country", s(max_length=2, pattern=COUNTRY)),
        ]
    )
    return t.Object(
        [
            t.Property("id", t.UUID()),
            t.Property("email", s(max_length=254, pattern=EMAIL)),
            t.Property("secondary_email", s(max_length=254, pattern=EMAIL), nullable=True),
            t.Property("first_name", s(max_length=80)),
            t.Property("last_name", s(max_length=80)),
            t.Property("phone", s(max_length=32, pattern=PHONE), nullable=True),
            t.Property("company", s(max_length=120), nullable=True),
            t.Property("job_title", s(max_length=120), nullable=True),
            t.Property("lifecycle_stage", s(values=STAGES)),
            t.Property("lead_score", t.Int(bits=32, min=0, max=1000)),
            t.Property("age", t.Int(bits=8, unsigned=True), nullable=True),
            t.Property("lifetime_value", t.Decimal(12, 2)),
            t.Property("discount_rate", t.Decimal(5, 4, min=0, max=1)),
            t.Property("email_opt_in", t.Boolean()),
            t.Property("is_customer", t.Boolean()),
            t.Property("created_at", t.DateTime()),
            t.Property("updated_at", t.DateTime()),
            t.Property("last_seen_at", t.DateTime(), nullable=True),
            t.Property("birth_date", t.Date(), nullable=True),
            t.Property("country", s(max_length=2, pattern=COUNTRY)),
            t.Property("tags", t.Array(s(max_length=40), max_elements=20, unique=True)),
            t.Property("address", address),
            t.Property("website", s(max_length=2048), nullable=True),
            t.Property("source", s(values=SOURCES)),
            t.Property("engagement", t.Float(real=True, min=0.0, max=1.0)),
        ]
    )


def _str(max_length: int, pattern: str | None = None, nullable: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": ["string", "null"] if nullable else "string"}
    out["maxLength"] = max_length
    if pattern:
        out["pattern"] = f"^{pattern}$"
    return out


def contact_json_schema() -> dict[str, Any]:
    """The same rules as a Draft 2020-12 JSON Schema (value checks by pattern)."""
    decimal = r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"
    rate = r"^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$"
    properties: dict[str, Any] = {
        "id": {"type": "string", "pattern": f"^{UUID_RE}$"},
        "email": _str(254, EMAIL),
        "secondary_email": _str(254, EMAIL, nullable=True),
        "first_name": _str(80),
        "last_name": _str(80),
        "phone": _str(32, PHONE, nullable=True),
        "company": _str(120, nullable=True),
        "job_title": _str(120, nullable=True),
        "lifecycle_stage": {"enum": STAGES},
        "lead_score": {"type": "integer", "minimum": 0, "maximum": 1000},
        "age": {"type": ["integer", "null"], "minimum": 0, "maximum": 255},
        "lifetime_value": {"type": "string", "pattern": decimal},
        "discount_rate": {"type": "string", "pattern": rate},
        "email_opt_in": {"type": "boolean"},
        "is_customer": {"type": "boolean"},
        "created_at": {"type": "string", "pattern": f"^{DATETIME_RE}$"},
        "updated_at": {"type": "integer", "minimum": 0},
        "last_seen_at": {"type": ["string", "null"], "pattern": f"^{DATETIME_RE}$"},
        "birth_date": {"type": ["string", "null"], "pattern": f"^{DATE_RE}$"},
        "country": _str(2, COUNTRY),
        "tags": {
            "type": "array",
            "items": _str(40),
            "maxItems": 20,
            "uniqueItems": True,
        },
        "address": {
            "type": "object",
            "properties": {
                "street": _str(200),
                "city": _str(80),
                "postal_code": _str(16, nullable=True),
                "region": _str(80, nullable=True),
                "country": _str(2, COUNTRY),
            },
            "required": ["street", "city", "country"],
            "additionalProperties": False,
        },
        "website": _str(2048, nullable=True),
        "source": {"enum": SOURCES},
        "engagement": {"type": "number", "minimum": 0, "maximum": 1},
    }
    nullable = {"secondary_email", "phone", "company", "job_title", "age", "last_seen_at"}
    nullable |= {"birth_date", "website"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in nullable],
        "additionalProperties": False,
    }


def make_records(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """*count* varied valid records, the same for a given seed."""
    rng = random.Random(seed)
    base = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    records = []
    for n in range(count):
        first = rng.choice(["Ana", "Bruno", "Chloé", "Dmitri", "Eun-ji", "Farah", "Göran"])
        last = rng.choice(["Silva", "Meyer", "Nakamura", "O'Brien", "Kowalski", "Dubois"])
        created = base + dt.timedelta(seconds=rng.randrange(0, 150_000_000))
        updated = created + dt.timedelta(milliseconds=rng.randrange(0, 10**10))
        offset = rng.choice(["Z", "+00:00", "+02:00", "-05:00"])
        records.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "email": f"{first.lower()}.{n}@example.com".replace("é", "e").replace("ö", "o"),
                "secondary_email": None if n % 3 else f"alt{n}@mail.example.org",
                "first_name": first,
                "last_name": last,
                "phone": None if n % 4 == 0 else f"+351 21{rng.randrange(10**6, 10**7)}",
                "company": rng.choice([None, "Acme Ltd", "Globex", "Initech GmbH"]),
                "job_title": rng.choice([None, "Engineer", "Head of Growth", "CFO"]),
                "lifecycle_stage": rng.choice(STAGES),
                "lead_score": rng.randrange(0, 1001),
                "age": None if n % 5 == 0 else rng.randrange(18, 90),
                "lifetime_value": f"{rng.randrange(0, 10**9) / 100:.2f}",
                "discount_rate": f"{rng.randrange(0, 10001) / 10000:.4f}",
                "email_opt_in": rng.random() < 0.6,
                "is_customer": rng.random() < 0.3,
                "created_at": created.strftime("%Y-%m-%dT%H:%M:%S") + offset,
                "updated_at": int(updated.timestamp() * 1000),
                "last_seen_at": None if n % 7 == 0 else updated.isoformat(),
                "birth_date": None
                if n % 6 == 0
                else f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
                "country": rng.choice(["PT", "DE", "JP", "FR", "BR", "PL"]),
                "tags": rng.sample(WORDS, rng.randrange(0, 5)),
                "address": {
                    "street": f"Rua {rng.randrange(1, 500)} de Maio",
                    "city": rng.choice(CITIES),
                    "postal_code": rng.choice(
                        [None, f"{rng.randrange(1000, 9999)}-{rng.randrange(100, 999)}"]
                    ),
                    "region": rng.choice([None, "Lisboa", "Bayern"]),
                    "country": rng.choice(["PT", "DE"]),
                },
                "website": None if n % 2 else f"https://www{n}.example.com/about",
                "source": rng.choice(SOURCES),
                "engagement": rng.random(),
            }
        )
    return records


def _runner(check: Callable[[Any], Any]) -> Callable[[list[dict[str, Any]]], None]:
    def run(records: list[dict[str, Any]]) -> None:
        for record in records:
            check(record)

    return run


def contenders() -> dict[str, Callable[[list[dict[str, Any]]], None]]:
    """Each contender as a function that checks every record and raises on the first bad one."""
    syncline = t.compile(contact_schema(), layouts=t.TimeLayouts(datetime="unixmilli"))
    schema = contact_json_schema()
    reference = jsonschema.Draft202012Validator(schema)
    fast = fastjsonschema.compile(schema)
    return {
        "syncline": _runner(syncline),
        "fastjsonschema": _runner(fast),
        "jsonschema": _runner(reference.validate),
    }


def _sanity(records: list[dict[str, Any]]) -> None:
    # The contenders must agree that good records pass and a bad one fails.
    bad = dict(records[0], email="not-an-email")
    for name, run in contenders().items():
        run(records[:200])
        try:
            run([bad])
        except (t.ValidationError, jsonschema.ValidationError, fastjsonschema.JsonSchemaException):
            continue
        raise SystemExit(f"{name} accepted an invalid record")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=1000, help="records per interleaved chunk")
    args = parser.parse_args()
    records = make_records(args.records)
    _sanity(records)
    runs = contenders()
    # Wall-clock and process CPU time: on a shared machine the CPU time is the
    # steadier measure, the wall clock the honest one; both are reported. Each
    # repetition walks the records in chunks and runs every contender on each
    # chunk, rotating their order, so that a change in machine load during the
    # run hits all contenders alike.
    names = list(runs)
    chunks = [records[i : i + args.chunk] for i in range(0, len(records), args.chunk)]
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        spent = {name: [0.0, 0.0] for name in runs}
        for number, chunk in enumerate(chunks):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                start, start_cpu = time.perf_counter(), time.process_time()
                runs[name](chunk)
                spent[name][1] += time.process_time() - start_cpu
                spent[name][0] += time.perf_counter() - start
        for name, (wall_time, cpu_time) in spent.items():
            wall[name].append(wall_time)
            cpu[name].append(cpu_time)
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {_cpu_model()}")
    print(
        f"{args.records} records x {args.repeat} repetitions, contenders interleaved "
        f"per {args.chunk} records, medians"
    )
    print(f"  {'contender':15s} {'records/s wall':>15s} {'records/s CPU':>15s}")
    rates = {}
    for name in runs:
        rates[name] = (
            args.records / statistics.median(wall[name]),
            args.records / statistics.median(cpu[name]),
        )
        print(f"  {name:15s} {rates[name][0]:15,.0f} {rates[name][1]:15,.0f}")
    for other in ("fastjsonschema", "jsonschema"):
        ratio_wall = rates["syncline"][0] / rates[other][0]
        ratio_cpu = rates["syncline"][1] / rates[other][1]
        print(f"  syncline / {other:15s} {ratio_wall:6.2f}x wall {ratio_cpu:6.2f}x CPU")


if __name__ == "__main__":
    main()
