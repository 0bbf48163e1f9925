"""Helpers of the checks tests: tables from frames (`store`), failing rows, the real dirty datasets."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from etl_assets.checks.failures import GroupResult
from tests.etl_assets.steps.conftest import store  # noqa: F401 - fixture: a DataFrame staged as a StoredTable


def rows_of(result: GroupResult) -> dict[int, list[str]]:
    """Row position -> the reasons it fails, in order."""
    frame = result.rows.frame()
    out: dict[int, list[str]] = {}
    for row, reason in zip(frame["row"], frame["reason"]):
        out.setdefault(int(row), []).append(reason)
    return out


@pytest.fixture
def penguins_csv() -> Path:
    """palmerpenguins' penguins.csv: 344 rows, 11 without sex, 2 without any measurement."""
    spec = importlib.util.find_spec("palmerpenguins")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("palmerpenguins is not installed")
    return Path(spec.submodule_search_locations[0]) / "data" / "penguins.csv"
