"""The `anomalies` rules: outliers by z-score or interquartile range, row-level.

- zscore: a value fails when |x - mean| / sd > threshold, with the mean and the *population*
  standard deviation (ddof=0, as the `scale` step) of the column's non-null values.
  A column with sd 0 has no outliers.
- iqr: a value fails when it lies outside [Q1 - k*IQR, Q3 + k*IQR], k = threshold, IQR = Q3 - Q1,
  with Q1/Q3 the 25th/75th percentiles by linear interpolation (pandas' default).
Statistics are taken over every row that enters the check (also rows that fail other rules).
Nulls and values that are not numbers are never anomalies. The column is read whole (8 bytes a row).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config.models import AnomalyRule
from ..tables import StoredTable
from .data import read_column
from .failures import GroupResult, format_number

NAME = "anomalies"


def _numbers(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series.dtype):
        return np.full(len(series), np.nan)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _outliers(values: np.ndarray, rule: AnomalyRule) -> tuple[np.ndarray, np.ndarray, str, dict[str, float]]:
    """(positions, score or bound per position, rule label, statistics)."""
    present = values[~np.isnan(values)]
    limit = format_number(rule.threshold)
    if not len(present):
        return np.empty(0, dtype="int64"), np.empty(0), f"{rule.column} {rule.method} > {limit}", {}
    if rule.method == "zscore":
        mean, sd = float(present.mean()), float(present.std(ddof=0))
        stats = {"mean": mean, "sd": sd}
        if sd == 0:
            return np.empty(0, dtype="int64"), np.empty(0), f"{rule.column} zscore > {limit}", stats
        with np.errstate(invalid="ignore"):
            scores = np.abs(values - mean) / sd
        hits = np.flatnonzero(scores > rule.threshold)
        return hits, scores[hits], f"{rule.column} zscore > {limit}", stats
    q1, q3 = (float(q) for q in np.percentile(present, [25, 75]))
    low, high = q1 - rule.threshold * (q3 - q1), q3 + rule.threshold * (q3 - q1)
    with np.errstate(invalid="ignore"):
        hits = np.flatnonzero((values < low) | (values > high))
    label = f"{rule.column} iqr outside [{low:.6g}, {high:.6g}] (k={limit})"
    return hits, values[hits], label, {"q1": q1, "q3": q3, "low": low, "high": high}


def check_anomalies(rules: list[AnomalyRule], table: StoredTable) -> GroupResult:
    """The `anomalies` check over the whole table."""
    result = GroupResult(NAME)
    names = set(table.schema.names)
    for rule in rules:
        if rule.column not in names:
            result.add_table_failure(f"{rule.column}: column is missing (anomalies)")
            continue
        series = read_column(table, rule.column)
        values = _numbers(series)
        if series.notna().any() and np.isnan(values).all():
            result.add_table_failure(f"{rule.column}: column holds no numbers ({rule.method} needs numbers)")
            continue
        hits, scores, label, stats = _outliers(values, rule)
        detail = [f"z={s:.2f}" for s in scores] if rule.method == "zscore" else None
        result.rows.add(hits, label, series.iloc[hits], detail)
        result.details[f"{rule.column} {rule.method}"] = {k: round(v, 6) for k, v in stats.items()}
    return result
