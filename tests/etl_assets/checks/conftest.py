"""Helpers of the checks tests: tables from frames, and the real dirty datasets."""
from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from etl_assets.tables import StoredTable, write_table


@pytest.fixture
def stored(tmp_path: Path) -> Callable[[pd.DataFrame], StoredTable]:
    """Stage a DataFrame as a table (as an asset would have written it)."""

    def make(frame: pd.DataFrame) -> StoredTable:
        return write_table(tmp_path / f"{uuid.uuid4().hex}.parquet", [frame])

    return make


@pytest.fixture
def penguins_csv() -> Path:
    """palmerpenguins' penguins.csv: 344 rows, 11 without sex, 2 without any measurement."""
    spec = importlib.util.find_spec("palmerpenguins")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("palmerpenguins is not installed")
    return Path(spec.submodule_search_locations[0]) / "data" / "penguins.csv"
