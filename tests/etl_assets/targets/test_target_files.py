"""File targets: every format round-trips; temp name + rename; failures keep the old file."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from etl_assets.targets import LoadResult, TargetError
from etl_assets.targets.files import write_file

READERS = {
    "csv": lambda p: pd.read_csv(p, keep_default_na=False, na_values=[""]),
    "json": lambda p: pd.read_json(p, orient="records", dtype=False),
    "jsonl": lambda p: pd.read_json(p, lines=True, dtype=False),
    "parquet": pd.read_parquet,
    "excel": lambda p: pd.read_excel(p, keep_default_na=False, na_values=[""]),
}
EXTENSIONS = {"csv": "csv", "json": "json", "jsonl": "jsonl", "parquet": "parquet", "excel": "xlsx"}


@pytest.mark.parametrize("fmt", list(READERS))
def test_airports_round_trip(tmp_path, stage, flights_csv, fmt):
    airports = flights_csv("airports")
    path = tmp_path / "out" / "nested" / f"airports.{EXTENSIONS[fmt]}"
    result = write_file(path, None, stage(airports))
    assert result == LoadResult(str(path), 1458)
    back = READERS[fmt](path)
    expected = airports.to_pandas()
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_values(tmp_path, stage, fmt):
    data = stage({
        "d": [date(2024, 1, 31), None],
        "ts": pa.array([datetime(2024, 1, 1, 5, 30, tzinfo=timezone.utc), None], pa.timestamp("us", tz="UTC")),
        "naive": pa.array([datetime(2024, 1, 1, 5, 30), None], pa.timestamp("us")),
        "f": [1.5, float("nan")],
        "dec": pa.array([Decimal("2.25"), None], pa.decimal128(5, 2)),
        "s": ["é", None],
    })
    path = tmp_path / f"x.{fmt}"
    write_file(path, fmt, data)
    text = path.read_text(encoding="utf-8")
    records = json.loads(text) if fmt == "json" else [json.loads(line) for line in text.splitlines()]
    assert records == [
        {"d": "2024-01-31", "ts": "2024-01-01T05:30:00+00:00", "naive": "2024-01-01T05:30:00", "f": 1.5, "dec": 2.25, "s": "é"},
        {"d": None, "ts": None, "naive": None, "f": None, "dec": None, "s": None},
    ]


def test_empty_tables(tmp_path, stage):
    empty = stage(pa.table({"a": pa.array([], pa.int64())}))
    write_file(tmp_path / "e.json", None, empty)
    assert json.loads((tmp_path / "e.json").read_text()) == []
    write_file(tmp_path / "e.csv", None, empty)
    assert (tmp_path / "e.csv").read_text().strip() == '"a"'


def test_csv_options_and_chunks(tmp_path, stage, flights_csv):
    weather = flights_csv("weather")
    path = tmp_path / "weather.csv"
    write_file(path, "csv", stage(weather.slice(0, 150_000)), {"delimiter": ";"})
    back = pd.read_csv(path, sep=";")
    assert len(back) == 26115 and list(back.columns) == weather.column_names
    write_file(tmp_path / "w.tsv", None, stage(weather.slice(0, 3)), {"header": False})
    assert (tmp_path / "w.tsv").read_text().splitlines()[0].startswith('"EWR"\t2013\t')


def test_excel_timezones_and_sheet(tmp_path, stage):
    data = stage({"at": pa.array([datetime(2024, 1, 1, 5, tzinfo=timezone.utc)], pa.timestamp("us", tz="UTC")), "n": [1]})
    write_file(tmp_path / "x.xlsx", "excel", data, {"sheet": "Loads"})
    back = pd.read_excel(tmp_path / "x.xlsx", sheet_name="Loads")
    assert back["at"].tolist() == [pd.Timestamp("2024-01-01 05:00")]


def test_a_failure_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, stage, failing, flights_csv):
    path = tmp_path / "weather.parquet"
    weather = flights_csv("weather")
    write_file(path, None, stage(weather.slice(0, 10)))
    before = path.read_bytes()
    for fmt in ("parquet", "csv", "jsonl", "json"):
        with pytest.raises(TargetError, match=rf"writing {path} \({fmt}\) failed: OSError: disk gone"):
            write_file(path, fmt, failing(stage(weather), 0))  # fails after the file was opened
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["staged", "weather.parquet"]


def test_bad_formats_and_options(tmp_path, stage):
    data = stage({"a": [1]})
    with pytest.raises(TargetError, match="cannot tell the format"):
        write_file(tmp_path / "x.dat", None, data)
    with pytest.raises(TargetError, match="'xml' is not one of"):
        write_file(tmp_path / "x.xml", "xml", data)
    with pytest.raises(TargetError, match="unknown csv option.*delimeter"):
        write_file(tmp_path / "x.csv", None, data, {"delimeter": ";"})
    assert not any(p.name.startswith("x") for p in tmp_path.iterdir())
