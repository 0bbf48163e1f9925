"""The Arrow fast paths of `cast` and the engine's Arrow path give what the pandas code gives."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from etl_assets.steps import StepError, cast, cast_arrow, engine, run_steps
from etl_assets.steps.errors import CastProblem
from etl_assets.tables import StoredTable, TableWriter
from tests.etl_assets.steps.conftest import parse_steps

PER_VALUE = {"string": cast.to_string, "integer": cast.to_integer, "float": cast.to_float, "boolean": cast.to_boolean, "datetime": cast.to_datetime}


def outcome(convert: Callable[[], pd.Series]) -> Any:
    try:
        return convert()
    except CastProblem as exc:
        return str(exc)


def assert_same_as_per_value(values: list[Any], type_: str, start: int = 0) -> None:
    """cast_series (fast path first) == the per-value function, also as Arrow via cast_array."""
    series = pd.Series(values, dtype=object, index=pd.RangeIndex(start, start + len(values)))
    fast, slow = outcome(lambda: cast.cast_series(series, type_, "c")), outcome(lambda: PER_VALUE[type_](series, "c"))
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert_series_equal(fast, slow)
    array = outcome(lambda: cast_arrow.cast_array(pa.array(values, pa.string()), type_, "c", start))
    assert array == slow if isinstance(slow, str) else array.equals(pa.array(slow, from_pandas=True))


TEXT_DATETIMES = [
    ["2013-01-01T10:00:00Z", "2013-01-02T11:30:00Z", None],
    ["2013-01-01 05:00", "2013-01-01T05:00:00.123456789", "2013-01-01", None],
    [" 2013-01-01T10:00:00Z", "2013-01-01T11:00:00Z\t", "", "   "],
    ["2013-01-01T05:00:00+02:00", "2013-01-01T05:00-0230", "2013-01-01T05+01"],
    ["2013-01-01T05:00:00Z", "2013-01-01 06:00"],  # mixed: naive read as UTC
    ["2013-1-1", "2013-01-01T05:00:00 Z"],  # forms only pandas reads
    ["2013-01-01", "2013-02-30"],
    ["2013-01-01T05:00:00Z", "nope", "2013-01-01 06:00", "x"],
    ["1500-01-01", "2013-01-01"],
    ["2262-04-11T23:47:16.854775807", "1677-09-21T00:12:43.145224193"],
    ["1677-09-21T00:12:43.145224192"],  # the NaT sentinel: pandas cannot hold it
    ["\u00a02013-01-01", "2013-01-01"],  # non-ASCII whitespace: Python strips it
    [None, None],
]


@pytest.mark.parametrize("values", TEXT_DATETIMES)
def test_datetime_from_text(values):
    assert_same_as_per_value(values, "datetime", start=5)


def test_a_zone_after_the_hour_alone_makes_the_column_utc():
    result = cast.cast_series(pd.Series(["2013-01-01T05Z", "2013-01-01 06:00", "2013-01-01T05:07+2"], dtype=object), "datetime", "c")
    assert str(result.dtype) == "datetime64[ns, UTC]"
    assert result.tolist() == [pd.Timestamp(s, tz="UTC") for s in ("2013-01-01 05:00", "2013-01-01 06:00", "2013-01-01 03:07")]


@pytest.mark.parametrize(
    ("type_", "values"),
    [
        ("integer", ["12", " -3 ", "007", "", None, "9223372036854775807"]),
        ("integer", ["+7", "12.0", "1e3"]),
        ("integer", ["1", "0x1F"]),
        ("integer", ["1", "99999999999999999999"]),
        ("integer", ["1", "１２"]),
        ("float", ["1.5", " 2 ", "-1e-3", None, "inf", "nan", "-Infinity", ".5", "5."]),
        ("float", ["1", "1,5"]),
        ("float", ["1", "0x1p3"]),
        ("boolean", ["true", "F", " yes ", "n", "1", "0", None, "TRUE"]),
        ("boolean", ["true", "maybe"]),
        ("string", ["a", " b ", "", None]),
    ],
)
def test_numbers_and_booleans_from_text(type_, values):
    assert_same_as_per_value(values, type_, start=3)


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1, None, -20], dtype="Int64"),
        pd.Series([1, 2**62], dtype="int64"),
        pd.Series([True, None], dtype="boolean"),
        pd.Series([1, "a", 2.5, None], dtype=object),
        pd.Series([1.0, 2.5, np.nan]),
        pd.Series([dt.date(2013, 1, 1), None], dtype=object),
    ],
)
def test_string_from_other_types(series):
    assert_series_equal(cast.cast_series(series, "string", "c"), cast.to_string(series, "c"))


MIXED = pd.DataFrame(
    {
        "i8": pd.array([1, None, -3, 4, 5, 6, 7], dtype="Int8"),
        "u32": pd.array([1, 2, None, 4, 5, 6, 4_000_000_000], dtype="UInt32"),
        "f32": pd.array([1.5, np.nan, None, 0.0, -2.0, 3.25, 1.0], dtype="float32"),
        "f": [1.0, np.nan, 2.5, None, 1e20, 3.0, 4.0],
        "b": pd.array([True, False, None, True, True, False, True], dtype="boolean"),
        "s": ["a", None, "bb", "", "c", "d", "e"],
        "when": ["2013-01-01T05:00:00Z", None, "2013-01-02T06:00:00Z", " 2013-01-03T07:00:00Z", "", "2013-01-04T08:00:00Z", "2013-01-05T09:00:00Z"],
        "n": ["1", "2", None, " 3", "4", "5", "6"],
        "d": [dt.date(2013, 1, i) for i in range(1, 8)],
        "t": pd.to_datetime(["2013-01-01 05:00", None, "2013-01-02 00:00", "2013-01-03 00:00", "2013-01-04 00:00", "2013-01-05 00:00", "2013-01-06 00:00"]).as_unit("us"),
        "tz": pd.to_datetime(["2013-01-01 05:00", None, "2013-01-02 00:00", "2013-01-03 00:00", "2013-01-04 00:00", "2013-01-05 00:00", "2013-01-06 00:00"], utc=True),
    }
)


@pytest.fixture
def mixed(tmp_path) -> StoredTable:
    """MIXED stored as Arrow writes it, with a float column that holds NaN (pandas reads it as null)."""
    table = pa.Table.from_pandas(MIXED, preserve_index=False).append_column("nan", pa.array([1.0, float("nan"), None, 2.0, float("nan"), 3.0, 4.0]))
    pq.write_table(table, tmp_path / "mixed.parquet")
    return StoredTable(tmp_path / "mixed.parquet")


@pytest.fixture
def arrow_path(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], list[bool]]:
    """arrow_path(on) -> a list that records, per run, whether the engine took the Arrow path."""

    ready = engine.arrow_ready

    def switch(on: bool) -> list[bool]:
        taken: list[bool] = []

        def spy(*args: Any) -> bool:
            taken.append(on and ready(*args))
            return taken[-1]

        monkeypatch.setattr(engine, "arrow_ready", spy)
        return taken

    return switch


@pytest.mark.parametrize(
    "steps",
    [
        [],
        [{"cast": {"i8": "string", "b": "string", "s": "string", "when": "datetime", "n": "integer"}}],
        [{"cast": {"u32": "float", "f32": "float", "b": "integer", "n": "float", "i8": "boolean"}}],
        [{"cast": {"u32": "float", "nan": "integer", "b": "boolean"}}],
        [{"rename": {"s": "text"}}, {"select": ["text", "when", "d", "t"]}, {"cast": {"text": "string", "when": "datetime", "t": "datetime"}}],
        [{"drop": ["f", "tz"]}, {"cast": {"d": "datetime", "tz": "datetime"}}],
        [{"cast": {"i8": "integer"}}, {"cast": {"i8": "string"}}, {"rename": {"i8": "x"}}],
    ],
)
@pytest.mark.parametrize("chunk_rows", [2, 100])
def test_arrow_path_equals_the_pandas_path(run, mixed, arrow_path, steps, chunk_rows):
    arrow_path(False)
    expected = outcome_of(lambda: run(mixed, steps, chunk_rows=chunk_rows))
    taken = arrow_path(True)
    got = outcome_of(lambda: run(mixed, steps, chunk_rows=chunk_rows))
    assert taken == [True]
    if isinstance(expected, str):
        assert got == expected
    else:
        assert_frame_equal(got, expected)


def outcome_of(run: Callable[[], pd.DataFrame]) -> Any:
    try:
        return run()
    except StepError as exc:
        return str(exc)


def test_arrow_path_stores_the_same_types_and_nulls(tmp_path, mixed, arrow_path):
    """The staged Parquet file is the same either way (int8 -> int64, NaN -> null)."""
    tables = []
    for on in (False, True):
        arrow_path(on)
        writer = TableWriter(tmp_path / f"out_{on}.parquet")
        run_steps("t", mixed, parse_steps([{"cast": {"when": "datetime", "i8": "string"}}]), {}, writer, chunk_rows=3)
        tables.append(writer.commit().read())
    assert tables[1].column("nan").null_count == 3 and tables[1].schema.field("i8").type == pa.string()
    assert tables[0].equals(tables[1])


def test_a_timezone_in_some_chunks_only_fails_as_in_the_pandas_path(run, store, arrow_path):
    table = store(pd.DataFrame({"t": ["2013-01-01T05:00:00Z", "2013-01-01T06:00:00Z", "2013-01-01 07:00", "2013-01-01 08:00", "x"]}))
    messages = []
    for on in (False, True):
        taken = arrow_path(on)
        with pytest.raises(StepError) as info:
            run(table, [{"cast": {"t": "datetime"}}], chunk_rows=2)
        messages.append(str(info.value))
        assert taken == [on]
    assert messages[0] == messages[1] == "transform t, step 1 (cast): column 't': cannot convert 'x' (row 5) to datetime"
    table = store(pd.DataFrame({"t": ["2013-01-01T05:00:00Z", "2013-01-01T06:00:00Z", "2013-01-01 07:00"]}))
    for on in (False, True):
        arrow_path(on)
        with pytest.raises(StepError, match=r"different types in different parts of the data .*timestamp\[ns, tz=UTC\] vs timestamp\[ns\]"):
            run(table, [{"cast": {"t": "datetime"}}], chunk_rows=2)


def test_a_column_null_everywhere_keeps_the_pandas_path(store, arrow_path, run):
    table = store(pd.DataFrame({"s": pd.Series([None, None, None], dtype=object), "i": [1, 2, 3]}))
    taken = arrow_path(True)
    result = run(table, [{"cast": {"i": "string"}}], chunk_rows=2)
    assert taken == [False] and result["i"].tolist() == ["1", "2", "3"]


def test_a_column_null_in_the_first_batch_only_takes_the_arrow_path(tmp_path, arrow_path, run):
    """Whether a column is null in every row is read from the batches, until each column showed a
    value (a column null in all but the last row is not)."""
    rows = TableWriter.COALESCE_ROWS
    with TableWriter(tmp_path / "late.arrow") as writer:
        writer.write(pa.table({"s": pa.array([None] * rows, pa.string()), "i": list(range(rows))}))
        writer.write(pa.table({"s": ["x"], "i": [rows]}))
        data = writer.commit()
    assert [b.column("s").null_count for b in data.batches(10**9)] == [rows, 0]
    taken = arrow_path(True)
    result = run(data, [{"cast": {"i": "string"}}])
    assert taken == [True] and result["s"].tolist()[-2:] == [None, "x"] and result["i"].tolist()[-1] == str(rows)


def test_a_parquet_file_of_an_earlier_version_without_statistics_takes_the_arrow_path(tmp_path, arrow_path, run):
    path = tmp_path / "nostats.parquet"
    pq.write_table(pa.table({"i": [1, 2, 3]}), path, write_statistics=False)
    taken = arrow_path(True)
    assert run(StoredTable(path), [{"cast": {"i": "string"}}])["i"].tolist() == ["1", "2", "3"]
    assert taken == [True]
