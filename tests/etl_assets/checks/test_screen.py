"""The Arrow screen of the `columns` rules: it never passes a chunk that pandera would fail, and
the check results are the same with or without it."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from etl_assets.checks import columns
from etl_assets.checks.columns import check_columns
from etl_assets.checks.screen import surely_passes
from etl_assets.config.models import ChecksConfig, ColumnRule
from etl_assets.tables import StoredTable

Store = Callable[[pd.DataFrame], StoredTable]


@pytest.mark.parametrize(
    ("array", "rule", "passes"),
    [
        (pa.array([1, 2, None]), {}, True),
        (pa.array([1, 2, None]), {"nullable": False}, False),
        (pa.array([1.0, float("nan")]), {"nullable": False}, False),
        (pa.array([1.0, float("nan")]), {"ge": 0}, False),  # NaN is left to pandera
        (pa.array([1.0, 2.5]), {"ge": 1, "lt": 2.5}, False),
        (pa.array([1.0, 2.5]), {"ge": 1, "le": 2.5}, True),
        (pa.array([2013, 2013, None]), {"ge": 2013, "le": 2013, "nullable": True}, True),
        (pa.array([2013, 2014]), {"ge": 2013, "le": 2013}, False),
        (pa.array([5, 6], pa.uint32()), {"gt": 4.5}, True),
        (pa.array([True, False]), {"ge": 0}, False),
        (pa.array(["1", "2"]), {"ge": 0}, False),
        (pa.array([None, None], pa.int64()), {"ge": 10, "isin": [1]}, True),
        (pa.array(["EWR", "JFK", None]), {"isin": ["EWR", "JFK", "LGA"]}, True),
        (pa.array(["EWR", "XXX"]), {"isin": ["EWR", "JFK", "LGA"]}, False),
        (pa.array(["EWR"]), {"isin": ["EWR", 1]}, False),
        (pa.array([1, 2]), {"isin": [1, 2]}, True),
        (pa.array([1, 2]), {"isin": [1.0, 2.0]}, False),
        (pa.array([1, 2]), {"isin": [True, 2]}, False),
        (pa.array(["a", None]), {"notin": ["b"]}, True),
        (pa.array(["a", "b"]), {"notin": ["b"]}, False),
        (pa.array(["UA", "Ü9", None]), {"min_length": 2, "max_length": 2}, True),
        (pa.array(["UA", "ABC"]), {"max_length": 2}, False),
        (pa.array(["UA", "A"]), {"min_length": 2}, False),
        (pa.array([10, 20]), {"max_length": 2}, False),
        (pa.array(["N1"]), {"regex": "^N"}, False),
        (pa.array(["a"], pa.large_string()), {"nullable": False, "isin": ["a"], "min_length": 1}, True),
    ],
)
def test_surely_passes(array: pa.Array, rule: dict[str, Any], passes: bool) -> None:
    assert surely_passes(array, ColumnRule.model_validate(rule)) is passes


def dirty_frame(rows: int, seed: int) -> pd.DataFrame:
    """Flights-like columns with a few bad values of every kind, most chunks clean."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "year": pd.array(np.full(rows, 2013), dtype="Int64"),
            "month": rng.integers(1, 13, rows),
            "carrier": rng.choice(["UA", "AA", "B6", "DL"], rows).astype(object),
            "origin": rng.choice(["EWR", "JFK", "LGA"], rows).astype(object),
            "distance": rng.uniform(10, 5000, rows),
            "code": rng.integers(0, 100, rows).astype(str).astype(object),
        }
    )
    bad = rng.choice(rows, 12, replace=False)
    frame.loc[bad[0], "year"] = None
    frame.loc[bad[1], "year"] = 2014
    frame.loc[bad[2], "month"] = 13
    frame.loc[bad[3], "carrier"] = None
    frame.loc[bad[4], "carrier"] = "ABC"
    frame.loc[bad[5], "origin"] = "XXX"
    frame.loc[bad[6], "distance"] = -1.0
    frame.loc[bad[7], "distance"] = np.nan
    frame.loc[bad[8], "code"] = "n/a"
    frame.loc[bad[9], "code"] = "500"
    return frame


RULE_SETS = [
    {
        "year": {"type": "integer", "nullable": False, "ge": 2013, "le": 2013},
        "month": {"type": "integer", "ge": 1, "le": 12},
        "carrier": {"nullable": False, "min_length": 2, "max_length": 2},
        "origin": {"isin": ["EWR", "JFK", "LGA"]},
        "distance": {"ge": 0},
    },
    {
        "distance": {"nullable": False, "lt": 4000.5},
        "origin": {"notin": ["JFK"], "regex": "^[EJ]"},
        "code": {"type": "integer", "le": 99},
        "month": {"isin": [1, 2, 3]},
        "carrier": {"isin": ["UA", 1], "unique": True},
    },
    {"code": {"le": 90}, "year": {"type": "float", "gt": 2012.5}, "carrier": {"type": "string", "max_length": 1}, "nope": {}},
]


@pytest.mark.parametrize("rules", RULE_SETS)
@pytest.mark.parametrize("chunk_rows", [97, 5000])
def test_results_equal_pandera_on_every_chunk(store: Store, monkeypatch: pytest.MonkeyPatch, rules: dict[str, Any], chunk_rows: int) -> None:
    table = store(dirty_frame(3000, seed=chunk_rows))
    checks = ChecksConfig.model_validate({"columns": rules})
    screened, dropped = check_columns(checks, table, chunk_rows)
    monkeypatch.setattr(columns, "surely_passes", lambda *_: False)
    full, dropped_full = check_columns(checks, table, chunk_rows)
    assert len(screened.rows.frame()) > 0
    pd.testing.assert_frame_equal(screened.rows.frame(), full.rows.frame())
    assert (screened.table, screened.conversions, screened.unconvertible, dropped) == (full.table, full.conversions, full.unconvertible, dropped_full)


def test_an_empty_table_still_meets_pandera(store: Store) -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(["2024-01-01"])}).iloc[:0]
    checks = ChecksConfig.model_validate({"columns": {"when": {"ge": 0}}})
    result, _ = check_columns(checks, store(frame), 10)
    assert result.table and result.table[0].startswith("when ge 0: cannot be evaluated on this column")
