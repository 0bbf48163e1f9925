"""Table and column names are always quoted identifiers; schema-qualified tables."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pymysql
import pytest

from etl_assets.targets import TargetError
from etl_assets.targets.sql import PartitionWindow, load_sql, quote_table, read_table

WEIRD = 'we"ird ; table'
COLUMNS = {
    "select": [1, 2, 2],
    "a b": ["x", "y", "y"],
    'q"uote': ["1", "2", "2"],
    "back`tick": [True, False, False],
    "per%cent": [0.5, 1.5, 1.5],
    "semi;colon": ["p", "q", "q"],
}


@pytest.mark.parametrize(
    "mode, first, second, rows",
    [
        ("append", (3, 0, 0), (3, 0, 0), 6),
        ("replace", (3, 0, 0), (3, 0, 0), 3),
        ("merge", (2, 0, 1), (0, 2, 1), 2),
        ("dedupe", (2, 0, 1), (0, 0, 3), 2),
    ],
)
def test_weird_table_and_column_names(any_db_url, stage, mode, first, second, rows):
    data = stage(COLUMNS)
    for expected in (first, second):
        result = load_sql(any_db_url, WEIRD, mode, data, primary_key=["select", "a b"])
        assert (result.inserted, result.updated, result.unchanged) == expected
        assert result.table == quote_table(any_db_url, WEIRD)
    back = read_table(any_db_url, WEIRD)
    assert list(back.columns) == list(COLUMNS)
    assert len(back) == rows
    assert sorted(back["per%cent"].unique().tolist()) == [0.5, 1.5]


def test_injection_looking_names_are_just_names(any_db_url, stage, count_rows):
    load_sql(any_db_url, "victim", "append", stage({"a": [1]}))
    evil = "x; DROP TABLE victim; --"
    load_sql(any_db_url, evil, "append", stage({"a'); DROP TABLE victim; --": ["v"]}))
    assert count_rows(any_db_url, "victim") == 1
    assert read_table(any_db_url, evil).columns.tolist() == ["a'); DROP TABLE victim; --"]


def test_partition_column_with_a_weird_name(any_db_url, stage):
    day = PartitionWindow("when is it", datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 2, tzinfo=timezone.utc))
    data = stage({"when is it": [datetime(2024, 1, 1, 3, tzinfo=timezone.utc)], "v": [1]})
    load_sql(any_db_url, WEIRD, "append", data, partition=day)
    assert load_sql(any_db_url, WEIRD, "append", data, partition=day).deleted == 1


def test_quote_table(pg_url, mysql_url, sqlite_url):
    assert quote_table(pg_url, 'analytics.we"ird') == '"analytics"."we""ird"'
    assert quote_table(mysql_url, "analytics.we`ird") == "`analytics`.`we``ird`"
    assert quote_table(sqlite_url, 'we"ird') == '"we""ird"'


def test_postgres_schema_is_created(pg_url, stage, run_sql):
    load_sql(pg_url, "analytics.flights", "append", stage({"a": [1, 2]}))
    load_sql(pg_url, "my schema.we ird", "dedupe", stage({"a": [1, 2]}))
    assert run_sql(pg_url, "SELECT COUNT(*) FROM analytics.flights") == [(2,)]
    assert run_sql(pg_url, 'SELECT COUNT(*) FROM "my schema"."we ird"') == [(2,)]
    assert read_table(pg_url, "analytics.flights")["a"].tolist() == [1, 2]
    load_sql(pg_url, "flights", "append", stage({"b": ["other table"]}))  # public.flights is another table
    assert read_table(pg_url, "flights").columns.tolist() == ["b"]


def test_mysql_schema_is_a_database(mysql_url, stage, run_sql):
    database = f"etl_test_{uuid.uuid4().hex[:10]}_analytics"
    try:
        for mode in ("append", "replace", "merge", "dedupe"):
            load_sql(mysql_url, f"{database}.t_{mode}", mode, stage({"a": [1, 2]}), primary_key=["a"])
            assert run_sql(mysql_url, f"SELECT COUNT(*) FROM `{database}`.`t_{mode}`") == [(2,)]
        load_sql(mysql_url, f"{database}.t_replace", "replace", stage({"a": [3]}))
        assert read_table(mysql_url, f"{database}.t_replace")["a"].tolist() == [3]
    finally:
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")
        conn.close()


def test_sqlite_accepts_main_and_rejects_other_schemas(sqlite_url, stage):
    load_sql(sqlite_url, "main.t", "append", stage({"a": [1]}))
    assert read_table(sqlite_url, "t")["a"].tolist() == [1]
    with pytest.raises(TargetError, match="SQLite has no schema 'analytics'"):
        load_sql(sqlite_url, "analytics.t", "append", stage({"a": [1]}))


def test_bad_table_names(any_db_url, stage):
    for name in (".t", "s.", ""):
        with pytest.raises(TargetError, match="expected 'table' or 'schema.table'"):
            load_sql(any_db_url, name, "append", stage({"a": [1]}))
    with pytest.raises(TargetError, match="longer than"):
        load_sql(any_db_url, "t", "append", stage({"c" * 2000: [1]}))


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://etl:Sup3r-Secret@127.0.0.1:1/db",
        "mysql+pymysql://etl:Sup3r-Secret@127.0.0.1:1/db",
        "postgresql+psycopg://etl:Sup3r-Secret@127.0.0.1:5432:bad/db",
        "nosuchdb://etl:Sup3r-Secret@host/db",
    ],
)
def test_errors_name_the_table_but_never_the_password(url, stage):
    with pytest.raises(TargetError) as err:
        load_sql(url, "flights", "append", stage({"a": [1]}), timeout_seconds=2)
    assert "Sup3r-Secret" not in str(err.value)
    assert err.value.__cause__ is None  # no driver error attached
    assert err.value.__context__ is None or err.value.__suppress_context__
    if "127.0.0.1:1/" in url:
        assert '"flights"' in str(err.value) or "`flights`" in str(err.value)
        assert "***" in str(err.value)
