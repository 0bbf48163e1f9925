"""The binary COPY encoder: the same bytes as pgpq's, values PostgreSQL reads back as they were."""
from __future__ import annotations

import datetime as dt
import decimal
import os
import random
from typing import Callable

import psycopg
import pyarrow as pa
import pytest
from pgpq import ArrowToPostgresBinaryEncoder

from etl_assets.targets.sql import pgbinary

native = pytest.mark.skipif(pgbinary._pgcopy is None, reason="the C encoder is not built")


def test_the_c_encoder_is_built_in_ci() -> None:
    if os.environ.get("ETL_REQUIRE_SERVERS") != "1" and pgbinary._pgcopy is None:
        pytest.skip("the C encoder is not built (no C compiler at install): pgpq encodes")
    assert pgbinary._pgcopy is not None


def _random_batch(rows: int, seed: int) -> pa.RecordBatch:
    rng = random.Random(seed)

    def col(make: Callable[[], object], type_: pa.DataType) -> pa.Array:
        return pa.array([None if rng.random() < 0.2 else make() for _ in range(rows)], type_)

    text = lambda: "".join(rng.choice('aé€\x01"\n,\\') for _ in range(rng.randint(0, 9)))  # noqa: E731
    raw = lambda n: bytes(rng.randrange(256) for _ in range(n))  # noqa: E731
    moment = lambda: dt.datetime(rng.randint(1, 9999), rng.randint(1, 12), 28, rng.randint(0, 23), 59, 58, rng.randint(0, 999_999))  # noqa: E731
    return pa.RecordBatch.from_pydict(
        {
            "i": col(lambda: rng.randint(-(2**63), 2**63 - 1), pa.int64()),
            "f": col(lambda: rng.choice([rng.uniform(-1e300, 1e300), -0.0, float("inf"), float("-inf"), float("nan")]), pa.float64()),
            "b": col(lambda: rng.random() < 0.5, pa.bool_()),
            "s": col(text, pa.string()),
            "ls": col(text, pa.large_string()),
            "bin": col(lambda: raw(rng.randint(0, 5)), pa.binary()),
            "lbin": col(lambda: raw(rng.randint(0, 5)), pa.large_binary()),
            "hash": col(lambda: raw(16), pa.binary(16)),
            "d": col(lambda: dt.date(rng.randint(1, 9999), rng.randint(1, 12), 1), pa.date32()),
            "t": col(lambda: dt.time(rng.randint(0, 23), rng.randint(0, 59), 1, rng.randint(0, 999_999)), pa.time64("us")),
            "ts": col(moment, pa.timestamp("us")),
            "tz": col(lambda: moment().replace(tzinfo=dt.timezone.utc), pa.timestamp("us", tz="UTC")),
            "nothing": pa.nulls(rows, pa.int64()),
            "all_text_null": pa.nulls(rows, pa.string()),
        }
    )


def _encoded(encoder: pgbinary.Encoder, *batches: pa.RecordBatch) -> bytes:
    return encoder.write_header() + b"".join(encoder.write_batch(b) for b in batches) + encoder.finish()


@native
@pytest.mark.parametrize("seed", range(5))
def test_the_same_bytes_as_pgpq_for_every_type_with_nulls_and_slices(seed: int) -> None:
    batch = _random_batch(700, seed)
    pieces = [batch, batch.slice(3, 400), batch.slice(699, 1), batch.slice(0, 0), batch.slice(13, 17)]
    encoder = pgbinary.encoder(batch.schema)
    assert isinstance(encoder, pgbinary.NativeEncoder)
    assert _encoded(encoder, *pieces) == _encoded(ArrowToPostgresBinaryEncoder(batch.schema), *pieces)


@native
def test_batches_of_another_schema_and_out_of_range_values_are_errors() -> None:
    encoder = pgbinary.encoder(pa.schema([("x", pa.int64())]))
    with pytest.raises(ValueError, match="differ"):
        encoder.write_batch(pa.RecordBatch.from_pydict({"x": pa.array([1.5])}))
    days = pgbinary.encoder(pa.schema([("d", pa.date32())]))
    with pytest.raises(OverflowError, match="column 0, row 1"):
        days.write_batch(pa.RecordBatch.from_pydict({"d": pa.array([0, -(2**31)], pa.int32()).cast(pa.date32())}))
    micros = pgbinary.encoder(pa.schema([("t", pa.timestamp("us"))]))
    with pytest.raises(OverflowError, match="column 0, row 0"):
        micros.write_batch(pa.RecordBatch.from_pydict({"t": pa.array([-(2**63) + 1], pa.int64()).cast(pa.timestamp("us"))}))


def test_types_the_c_encoder_does_not_write_go_to_pgpq() -> None:
    schema = pa.schema([("amount", pa.decimal128(12, 2)), ("n", pa.int64())])
    assert isinstance(pgbinary.encoder(schema), ArrowToPostgresBinaryEncoder)
    batch = pa.RecordBatch.from_pydict({"amount": pa.array([decimal.Decimal("1.25"), None], pa.decimal128(12, 2)), "n": [1, 2]})
    assert _encoded(pgbinary.encoder(schema), batch) == _encoded(ArrowToPostgresBinaryEncoder(schema), batch)


@pytest.mark.postgres
def test_postgresql_reads_back_every_value(pg_url: str) -> None:
    batch = _random_batch(2_000, 11)
    types = {
        "i": "BIGINT", "f": "DOUBLE PRECISION", "b": "BOOLEAN", "s": "TEXT", "ls": "TEXT", "bin": "BYTEA", "lbin": "BYTEA",
        "hash": "BYTEA", "d": "DATE", "t": "TIME", "ts": "TIMESTAMP", "tz": "TIMESTAMPTZ", "nothing": "BIGINT", "all_text_null": "TEXT",
    }
    # NUL is the one character PostgreSQL text cannot hold
    strings = [pa.array([None if v is None else v.replace("\x00", "") for v in batch.column(n).to_pylist()], batch.schema.field(n).type) for n in ("s", "ls")]
    batch = batch.set_column(3, "s", strings[0]).set_column(4, "ls", strings[1])
    with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"), options="-c TimeZone=UTC") as conn:
        conn.execute(f"CREATE TABLE roundtrip ({', '.join(f'{n} {t}' for n, t in types.items())})")
        with conn.cursor() as cur, cur.copy("COPY roundtrip FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_encoded(pgbinary.encoder(batch.schema), batch.slice(0, 1_000), batch.slice(1_000)))
        rows = conn.execute(f"SELECT {', '.join(types)} FROM roundtrip").fetchall()
    expected = list(zip(*(batch.column(n).to_pylist() for n in types)))
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected):
        for value, wanted in zip(got, want):
            if isinstance(wanted, float) and wanted != wanted:
                assert value != value
            else:
                assert value == wanted
