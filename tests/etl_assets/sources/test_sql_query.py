"""The SQL a sql source sends (quoting, bound parameters) and how driver rows become Arrow."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from etl_assets.config.models import SqlSource
from etl_assets.incremental import decode, encode
from etl_assets.partitions import PartitionWindow
from etl_assets.sources.errors import SourceError
from etl_assets.sources.sql import ArrowChunks, build_query

WINDOW = PartitionWindow("2024-03-02", "ordered_on", dt.datetime(2024, 3, 2, tzinfo=dt.timezone.utc), dt.datetime(2024, 3, 3, tzinfo=dt.timezone.utc))


def source(**kw: object) -> SqlSource:
    return SqlSource.model_validate({"name": "s", "type": "sql", "connection": "db", **kw})


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [(postgresql.dialect(), '"Sales"."Order Lines"'), (mysql.dialect(), "`Sales`.`Order Lines`"), (sqlite.dialect(), '"Sales"."Order Lines"')],
)
def test_table_names_are_quoted_per_dialect(dialect: object, expected: str) -> None:
    sql, params = build_query(source(table="Sales.Order Lines"), dialect, None, None)
    assert (sql, params) == (f"SELECT * FROM {expected}", {})


def test_incremental_wraps_the_query_and_binds_the_cursor() -> None:
    src = source(query="SELECT * FROM t WHERE kind = 'a';  ", incremental={"cursor": "updated at"})
    sql, params = build_query(src, postgresql.dialect(), None, 41)
    assert sql == 'SELECT * FROM (SELECT * FROM t WHERE kind = \'a\') AS _etl_source WHERE "updated at" > :_etl_cursor ORDER BY "updated at"'
    assert params == {"_etl_cursor": 41}
    first, none = build_query(src, postgresql.dialect(), None, None)
    assert "WHERE \"updated at\"" not in first and none == {}


def test_partition_placeholders_become_bound_parameters() -> None:
    src = source(query="SELECT * FROM t WHERE d >= '{partition_start}' AND d < {partition_end} -- {partition_key}")
    sql, params = build_query(src, sqlite.dialect(), WINDOW, None)
    assert sql == "SELECT * FROM t WHERE d >= :_etl_partition_start AND d < :_etl_partition_end -- :_etl_partition_key"
    assert params == {
        "_etl_partition_start": "2024-03-02T00:00:00+00:00",
        "_etl_partition_end": "2024-03-03T00:00:00+00:00",
        "_etl_partition_key": "2024-03-02",
    }


def test_bound_partition_values_filter_rows_in_a_real_database(tmp_path: object) -> None:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE t (d TEXT)"))
        conn.execute(sa.text("INSERT INTO t VALUES ('2024-03-01T12:00:00+00:00'), ('2024-03-02T12:00:00+00:00'), ('2024-03-03T00:00:00+00:00')"))
        sql, params = build_query(source(query="SELECT d FROM t WHERE d >= {partition_start} AND d < {partition_end}"), engine.dialect, WINDOW, None)
        assert [r[0] for r in conn.execute(sa.text(sql), params)] == ["2024-03-02T12:00:00+00:00"]


def test_rows_become_arrow_with_stable_types() -> None:
    chunks = ArrowChunks(["n", "price", "at", "doc", "id"], [("n",), ("price", 1700, None, None, 10, 2, True), ("at",), ("doc",), ("id",)])
    berlin = ZoneInfo("Europe/Berlin")
    u = uuid.uuid4()
    first = chunks.table([(None, Decimal("1.5"), dt.datetime(2024, 1, 1, 10, tzinfo=berlin), {"a": [1]}, u)])
    assert first.schema.field("price").type == pa.decimal128(38, 2)
    assert first.schema.field("at").type == pa.timestamp("us", "UTC")
    assert first.column("at")[0].as_py() == dt.datetime(2024, 1, 1, 9, tzinfo=dt.timezone.utc)
    assert first.column("doc").to_pylist() == ['{"a": [1]}'] and first.column("id").to_pylist() == [str(u)]
    assert pa.types.is_null(first.schema.field("n").type)
    second = chunks.table([(3, Decimal("2.25"), None, None, None)])
    assert second.schema.field("n").type == pa.int64() and second.schema.field("price").type == pa.decimal128(38, 2)
    empty = chunks.table([])
    assert empty.num_rows == 0 and empty.schema.names == ["n", "price", "at", "doc", "id"]


def test_a_later_chunk_that_does_not_fit_names_the_column() -> None:
    chunks = ArrowChunks(["x"], None)
    chunks.table([(1,)])
    with pytest.raises(SourceError, match="column x"):
        chunks.table([("text",)])


def test_duplicate_result_columns_are_an_error() -> None:
    with pytest.raises(SourceError, match="id more than once"):
        ArrowChunks(["id", "id"], None)


@pytest.mark.parametrize(
    "value",
    [7, 2.5, Decimal("10.25"), "b", dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5), dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc), True, None],
)
def test_cursor_values_round_trip_through_json(value: object) -> None:
    assert decode(encode(value)) == value
    assert type(decode(encode(value))) is type(value)
