"""The cast step: every column type, nulls, and the error for a value that cannot be converted."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from etl_assets.steps import CastError, StepError


def test_integer_from_floats_without_fraction(run, roundtrip, penguins):
    result = run(penguins, [{"cast": {"body_mass_g": "integer", "flipper_length_mm": "integer"}}], chunk_rows=7)
    frame = penguins.to_pandas()
    assert frame["body_mass_g"].dtype == np.float64
    expected = frame.assign(
        body_mass_g=frame["body_mass_g"].astype("Int64"), flipper_length_mm=frame["flipper_length_mm"].astype("Int64")
    )
    assert result["body_mass_g"].dtype == "Int64" and result["body_mass_g"].isna().sum() == 2
    assert_frame_equal(result, roundtrip(expected))


def test_integer_from_strings(run, store):
    table = store(pd.DataFrame({"v": ["12", " -3 ", "+7", "12.0", "1e3", None, ""]}))
    result = run(table, [{"cast": {"v": "integer"}}])
    assert_series_equal(result["v"], pd.Series([12, -3, 7, 12, 1000, None, None], dtype="Int64", name="v"))


def test_integer_never_truncates_a_fraction(run, penguins):
    with pytest.raises(CastError) as info:
        run(penguins, [{"cast": {"bill_length_mm": "integer"}}])
    assert str(info.value) == "transform t, step 1 (cast): column 'bill_length_mm': cannot convert 39.1 (row 1) to integer"
    assert (info.value.column, info.value.row, info.value.value) == ("bill_length_mm", 1, 39.1)


def test_impossible_cast_names_column_row_and_value_across_chunks(run, store):
    values = [str(i) for i in range(40)]
    values[17] = "abc"  # data row 18 (1-based), in the third chunk of 7 rows
    table = store(pd.DataFrame({"year": values, "x": range(40)}))
    for chunk_rows in (7, 1000):
        with pytest.raises(StepError) as info:
            run(table, [{"cast": {"year": "integer"}}], chunk_rows=chunk_rows, transform="clean_flights")
        assert str(info.value) == "transform clean_flights, step 1 (cast): column 'year': cannot convert 'abc' (row 18) to integer"


def test_row_number_counts_rows_entering_the_step(run, store):
    table = store(pd.DataFrame({"v": ["1", "2", "x", "4", "y"], "keep": [True, True, False, True, True]}))
    with pytest.raises(StepError, match=r"step 2 \(cast\): column 'v': cannot convert 'y' \(row 4\) to integer"):
        run(table, [{"filter": "keep"}, {"cast": {"v": "integer"}}], chunk_rows=2)


def test_integer_out_of_range_is_an_error(run, store):
    table = store(pd.DataFrame({"v": ["1", "99999999999999999999"]}))
    with pytest.raises(StepError, match=r"cannot convert '99999999999999999999' \(row 2\) to integer \(outside the 64-bit"):
        run(table, [{"cast": {"v": "integer"}}])


def test_float(run, roundtrip, airports):
    result = run(airports, [{"cast": {"alt": "float", "tz": "float"}}])
    frame = airports.to_pandas()
    expected = frame.assign(alt=frame["alt"].astype("float64"), tz=frame["tz"].astype("float64"))
    assert result["alt"].dtype == np.float64
    assert_frame_equal(result, roundtrip(expected))


def test_float_from_strings(run, store):
    table = store(pd.DataFrame({"v": ["1.5", " 2 ", "-1e-3", None, "inf", "nan"]}))
    result = run(table, [{"cast": {"v": "float"}}])
    assert result["v"].tolist()[:3] == [1.5, 2.0, -0.001]
    assert np.isnan(result["v"][3]) and result["v"][4] == np.inf and np.isnan(result["v"][5])
    with pytest.raises(StepError, match=r"column 'v': cannot convert '1,5' \(row 2\) to float"):
        run(store(pd.DataFrame({"v": ["1", "1,5"]})), [{"cast": {"v": "float"}}])


def test_string_from_integers_floats_and_booleans(run, store):
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None, -20], dtype="Int64"),
            "f": [1.0, 2.5, np.nan],
            "b": pd.array([True, False, None], dtype="boolean"),
        }
    )
    result = run(store(frame), [{"cast": {"i": "string", "f": "string", "b": "string"}}])
    assert result["i"].tolist() == ["1", None, "-20"]
    assert result["f"].tolist() == ["1.0", "2.5", None]
    assert result["b"].tolist() == ["True", "False", None]
    assert result["i"].dtype == object


def test_string_matches_str_of_each_value(run, roundtrip, planes):
    result = run(planes, [{"cast": {"seats": "string", "year": "string"}}], chunk_rows=7)
    frame = planes.to_pandas()
    as_text = lambda s: s.map(lambda v: None if pd.isna(v) else str(v)).astype(object)  # noqa: E731
    expected = frame.assign(seats=as_text(frame["seats"]), year=as_text(frame["year"]))
    assert result["seats"][0] == "55" and result["year"][0] == "2004.0"
    assert_frame_equal(result, roundtrip(expected))


def test_boolean(run, store):
    frame = pd.DataFrame({"s": ["true", "F", " yes ", "n", "1", "0", None, "Y"], "n": [1, 0, 1, 0, 1, 0, None, 1]})
    result = run(store(frame), [{"cast": {"s": "boolean", "n": "boolean"}}])
    expected = pd.array([True, False, True, False, True, False, None, True], dtype="boolean")
    assert_series_equal(result["s"], pd.Series(expected, name="s"))
    assert_series_equal(result["n"], pd.Series(expected, name="n"))
    with pytest.raises(StepError, match=r"column 'n': cannot convert 2 \(row 2\) to boolean"):
        run(store(pd.DataFrame({"n": [1, 2]})), [{"cast": {"n": "boolean"}}])
    with pytest.raises(StepError, match=r"column 's': cannot convert 'maybe' \(row 1\) to boolean"):
        run(store(pd.DataFrame({"s": ["maybe"]})), [{"cast": {"s": "boolean"}}])


def test_datetime_with_timezone_is_utc(run, roundtrip, weather):
    result = run(weather, [{"cast": {"time_hour": "datetime"}}], chunk_rows=7)
    frame = weather.to_pandas()
    assert frame["time_hour"][0] == "2013-01-01T06:00:00Z"
    expected = frame.assign(time_hour=pd.to_datetime(frame["time_hour"], utc=True))
    assert str(result["time_hour"].dtype) == "datetime64[ns, UTC]"
    assert result["time_hour"][0] == pd.Timestamp("2013-01-01 06:00", tz="UTC")
    assert_frame_equal(result, roundtrip(expected))


def test_datetime_converts_offsets_to_utc_and_keeps_naive_values_naive(run, store):
    aware = store(pd.DataFrame({"t": ["2013-01-01T05:00:00+02:00", "2013-01-01 05:00", None, "2013-01-02"]}))
    result = run(aware, [{"cast": {"t": "datetime"}}])
    assert result["t"].tolist()[:2] == [pd.Timestamp("2013-01-01 03:00", tz="UTC"), pd.Timestamp("2013-01-01 05:00", tz="UTC")]
    assert pd.isna(result["t"][2]) and result["t"][3] == pd.Timestamp("2013-01-02", tz="UTC")
    naive = run(store(pd.DataFrame({"t": ["2013-01-01 05:00", "2013-01-02T06:30:00"]})), [{"cast": {"t": "datetime"}}])
    assert str(naive["t"].dtype) == "datetime64[ns]"
    assert naive["t"].tolist() == [pd.Timestamp("2013-01-01 05:00"), pd.Timestamp("2013-01-02 06:30")]
    with pytest.raises(StepError, match=r"column 't': cannot convert '01/02/2013x' \(row 2\) to datetime"):
        run(store(pd.DataFrame({"t": ["2013-01-01", "01/02/2013x"]})), [{"cast": {"t": "datetime"}}])


def test_date(run, store, weather):
    result = run(weather, [{"cast": {"time_hour": "date"}}])
    frame = weather.to_pandas()
    expected = pd.to_datetime(frame["time_hour"], utc=True).dt.date
    assert isinstance(result["time_hour"][0], dt.date)
    assert result["time_hour"].tolist() == expected.tolist()
    texts = run(store(pd.DataFrame({"d": ["2013-01-31", None, " 2014-02-01 "]})), [{"cast": {"d": "date"}}])
    assert texts["d"].tolist() == [dt.date(2013, 1, 31), None, dt.date(2014, 2, 1)]
    with pytest.raises(StepError, match=r"column 'd': cannot convert '2013-02-30' \(row 1\) to date"):
        run(store(pd.DataFrame({"d": ["2013-02-30"]})), [{"cast": {"d": "date"}}])


def test_decimal(run, store, penguins):
    result = run(penguins, [{"cast": {"bill_length_mm": "decimal", "year": "decimal"}}])
    frame = penguins.to_pandas()
    assert result["bill_length_mm"][0] == Decimal("39.1") and result["year"][0] == Decimal(2007)
    assert result["bill_length_mm"].isna().sum() == 2
    expected = [None if pd.isna(v) else Decimal(repr(v)) for v in frame["bill_length_mm"]]
    assert result["bill_length_mm"].tolist() == expected
    texts = run(store(pd.DataFrame({"v": ["1.10", "-0.005", None]})), [{"cast": {"v": "decimal"}}])
    assert texts["v"].tolist() == [Decimal("1.10"), Decimal("-0.005"), None]
    with pytest.raises(StepError, match=r"column 'v': cannot convert 'NaN' \(row 1\) to decimal"):
        run(store(pd.DataFrame({"v": ["NaN"]})), [{"cast": {"v": "decimal"}}])


def test_dates_cannot_become_numbers(run, store):
    table = store(pd.DataFrame({"t": pd.to_datetime(["2013-01-01", None])}))
    with pytest.raises(StepError, match=r"column 't': cannot convert 2013-01-01 00:00:00 \(row 1\) to integer"):
        run(table, [{"cast": {"t": "integer"}}])


def test_all_null_and_empty_columns(run, store):
    table = store(pd.DataFrame({"v": pd.Series([None, None], dtype=object), "w": [1.0, 2.0]}).iloc[:0])
    result = run(table, [{"cast": {"v": "integer", "w": "string"}}])
    assert len(result) == 0 and list(result.columns) == ["v", "w"]
    nulls = run(store(pd.DataFrame({"v": [None, None]}, dtype=object)), [{"cast": {"v": "integer"}}])
    assert nulls["v"].isna().all() and len(nulls) == 2
