"""A partitioned load replaces exactly the rows of its window, in one transaction."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from etl_assets.targets import TargetError
from etl_assets.targets.sql import PartitionWindow, load_sql, read_table

UTC = timezone.utc


def _day(column: str, day: int, tz=UTC) -> PartitionWindow:
    start = datetime(2013, 1, day, tzinfo=tz)
    return PartitionWindow(column, start, start + timedelta(days=1))


def _rows_of(table: pa.Table, window: PartitionWindow) -> pa.Table:
    column = table[window.column]
    inside = pc.and_(pc.greater_equal(column, pa.scalar(window.start, column.type)), pc.less(column, pa.scalar(window.end, column.type)))
    return table.filter(inside)


@pytest.mark.parametrize("mode", ["append", "replace", "dedupe"])
def test_reloading_a_window_replaces_only_that_window(any_db_url, stage, flights_csv, sorted_frame, utc_naive, mode):
    weather = flights_csv("weather")
    day1, day2 = _day("time_hour", 1), _day("time_hour", 2)
    rows1, rows2 = _rows_of(weather, day1), _rows_of(weather, day2)
    assert load_sql(any_db_url, "weather", mode, stage(rows1), partition=day1).inserted == rows1.num_rows
    assert load_sql(any_db_url, "weather", mode, stage(rows2), partition=day2).deleted == 0

    changed = rows1.slice(10).set_column(weather.schema.get_field_index("temp"), "temp", pc.add(rows1.slice(10)["temp"], 100.0))
    result = load_sql(any_db_url, "weather", mode, stage(changed), partition=day1)
    assert (result.deleted, result.inserted) == (rows1.num_rows, changed.num_rows)

    back = read_table(any_db_url, "weather")
    back["time_hour"] = utc_naive(back["time_hour"])
    for window, expected in ((day1, changed), (day2, rows2)):
        lo, hi = (window.start.replace(tzinfo=None), window.end.replace(tzinfo=None))
        got = sorted_frame(back[(back["time_hour"] >= lo) & (back["time_hour"] < hi)], ["origin", "time_hour"])
        want = sorted_frame(expected.to_pandas(), ["origin", "time_hour"])
        want["time_hour"] = utc_naive(want["time_hour"])
        assert got["temp"].tolist() == want["temp"].tolist()
        assert len(got) == len(want)
    assert len(back) == changed.num_rows + rows2.num_rows


def test_date_column_windows_with_merge(any_db_url, stage):
    data = {"day": [date(2024, 1, 1), date(2024, 1, 1), date(2024, 1, 2)], "id": [1, 2, 3], "v": ["a", "b", "c"]}
    jan1 = PartitionWindow("day", datetime(2024, 1, 1), datetime(2024, 1, 2))
    jan2 = PartitionWindow("day", datetime(2024, 1, 2), datetime(2024, 1, 3))
    load_sql(any_db_url, "t", "merge", stage({k: v[:2] for k, v in data.items()}), primary_key=["id"], partition=jan1)
    load_sql(any_db_url, "t", "merge", stage({k: v[2:] for k, v in data.items()}), primary_key=["id"], partition=jan2)
    again = load_sql(any_db_url, "t", "merge", stage({"day": [date(2024, 1, 1)], "id": [2], "v": ["B"]}), primary_key=["id"], partition=jan1)
    assert (again.deleted, again.inserted, again.updated) == (2, 1, 0)
    back = read_table(any_db_url, "t").sort_values("id")
    assert back.values.tolist() == [[date(2024, 1, 1), 2, "B"], [date(2024, 1, 2), 3, "c"]]


def test_naive_timestamps_compare_with_the_windows_wall_clock(any_db_url, stage):
    berlin = ZoneInfo("Europe/Berlin")
    day = PartitionWindow("at", datetime(2024, 3, 1, tzinfo=berlin), datetime(2024, 3, 2, tzinfo=berlin))
    data = {"at": pa.array([datetime(2024, 3, 1, 0, 0), datetime(2024, 3, 1, 23, 59)], pa.timestamp("us")), "v": [1, 2]}
    load_sql(any_db_url, "t", "append", stage(data), partition=day)
    assert load_sql(any_db_url, "t", "append", stage(data), partition=day).deleted == 2
    bad = {"at": pa.array([datetime(2024, 3, 2, 0, 0)], pa.timestamp("us")), "v": [3]}
    with pytest.raises(TargetError, match="1 of 1 rows"):
        load_sql(any_db_url, "t", "append", stage(bad), partition=day)


def test_rows_outside_the_window_fail_and_change_nothing(any_db_url, stage, flights_csv, count_rows):
    weather = flights_csv("weather")
    day1 = _day("time_hour", 1)
    load_sql(any_db_url, "weather", "append", stage(_rows_of(weather, day1)), partition=day1)
    two_days = weather.slice(0, 40)  # EWR hours of Jan 1 (from 06:00 UTC) and Jan 2
    outside = two_days.num_rows - _rows_of(two_days, day1).num_rows
    assert outside > 0
    with pytest.raises(TargetError, match=rf"{outside} of 40 rows have 'time_hour' outside the partition window"):
        load_sql(any_db_url, "weather", "append", stage(two_days), partition=day1)
    assert count_rows(any_db_url, "weather") == _rows_of(weather, day1).num_rows


def test_partition_column_must_be_a_date_or_timestamp_in_the_data(any_db_url, stage):
    window = PartitionWindow("day", datetime(2024, 1, 1), datetime(2024, 1, 2))
    with pytest.raises(TargetError, match="'day' is not in the data"):
        load_sql(any_db_url, "t", "append", stage({"x": [1]}), partition=window)
    with pytest.raises(TargetError, match="must be a date or timestamp"):
        load_sql(any_db_url, "t", "append", stage({"day": ["2024-01-01"]}), partition=window)
    with pytest.raises(TargetError, match="null"):
        load_sql(any_db_url, "t", "append", stage({"day": pa.array([None], pa.date32())}), partition=window)
