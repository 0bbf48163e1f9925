"""Every load commits completely or leaves the table as it was; replace never shows a mix."""
from __future__ import annotations

import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from etl_assets.targets import TargetError
from etl_assets.targets.sql import load_sql, read_table

MODES = ["append", "replace", "merge", "dedupe"]


def _columns(url: str, table: str) -> list[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return [c["name"] for c in sa.inspect(engine).get_columns(table)]
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("mode", MODES)
def test_reading_failing_midway_leaves_the_table_as_it_was(any_db_url, stage, failing, sorted_frame, mode):
    load_sql(any_db_url, "t", mode, stage({"id": [1, 2, 3], "code": ["a", "b", "c"]}), primary_key=["id"])
    before = sorted_frame(read_table(any_db_url, "t"), ["id"])
    new = stage({"id": list(range(2, 2002)), "code": ["x"] * 2000, "extra": [1.5] * 2000})
    with pytest.raises(TargetError, match="disk gone"):
        load_sql(any_db_url, "t", mode, failing(new, 2), primary_key=["id"], chunk_rows=500)
    pd.testing.assert_frame_equal(sorted_frame(read_table(any_db_url, "t"), ["id"]), before)
    assert "extra" not in _columns(any_db_url, "t")  # MySQL: the added column is dropped again
    assert _tables(any_db_url) == {"t"}  # no stage or __etl_new table left behind


@pytest.mark.parametrize("mode", MODES)
def test_a_bad_value_in_the_last_chunk_leaves_the_table_as_it_was(any_db_url, stage, run_sql, sorted_frame, mode):
    run_sql(any_db_url, "CREATE TABLE t (id BIGINT NOT NULL, code VARCHAR(10) NOT NULL)")
    load_sql(any_db_url, "t", mode, stage({"id": [1, 2, 3], "code": ["a", "b", "c"]}), primary_key=["id"])
    before = sorted_frame(read_table(any_db_url, "t"), ["id"])
    codes = ["x"] * 1999 + [None]  # NOT NULL violated by the last row of the last chunk
    bad = stage({"id": list(range(2, 2002)), "code": codes, "extra": ["e"] * 2000})
    with pytest.raises(TargetError, match="(?i)null"):
        load_sql(any_db_url, "t", mode, bad, primary_key=["id"], chunk_rows=500)
    pd.testing.assert_frame_equal(sorted_frame(read_table(any_db_url, "t"), ["id"]), before)
    assert "extra" not in _columns(any_db_url, "t")
    assert _tables(any_db_url) == {"t"}


def test_a_failed_first_load_leaves_no_table(any_db_url, stage, failing):
    data = stage({"id": list(range(1000))})
    for mode in MODES:
        with pytest.raises(TargetError):
            load_sql(any_db_url, "t", mode, failing(data, 1), primary_key=["id"], chunk_rows=100)
    assert _tables(any_db_url) == set()


@pytest.mark.parametrize("db", ["pg_url", "mysql_url"])
def test_a_concurrent_reader_sees_the_old_rows_or_the_new_ones(request, db, stage, flights_csv):
    url = request.getfixturevalue(db)
    weather = flights_csv("weather")
    old, new = stage(weather), stage(weather.slice(0, 20_000))
    load_sql(url, "weather", "replace", old)
    counts: list[int] = []
    loading = threading.Event()
    stop = threading.Event()

    def reader() -> None:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            while not stop.is_set():
                value = conn.exec_driver_sql("SELECT COUNT(*) FROM weather").scalar()
                if loading.is_set():
                    counts.append(value)
        engine.dispose()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        loading.set()
        for data in (new, old):
            load_sql(url, "weather", "replace", data, chunk_rows=2_000)
    finally:
        stop.set()
        thread.join()
    assert len(counts) > 10
    assert set(counts) <= {26_115, 20_000}, sorted(set(counts))
    assert {26_115, 20_000} <= set(counts)  # it did watch the swaps happen
