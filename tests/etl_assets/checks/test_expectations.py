"""`expectations` run with Great Expectations 1.x: row-level and aggregate, passing and failing."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from etl_assets.checks.expectations import check_expectations
from etl_assets.tables import StoredTable
from tests.etl_assets.checks.conftest import rows_of

Store = Callable[[pd.DataFrame], StoredTable]

FRAME = pd.DataFrame(
    {
        "id": [1, 2, 3, 4, 5, 6],
        "air_time": [100.0, 950.0, None, 30.0, 45.0, -5.0],
        "carrier": ["AA", "B6", "DL", "ZZ", "AA", "UA"],
        "dep": [10, 20, 30, 40, 50, 60],
        "arr": [15, 25, 20, 45, 55, 65],
    }
)


def test_passing_expectations_fail_nothing(store: Store) -> None:
    result = check_expectations(
        [
            {"expect_column_values_to_be_between": {"column": "dep", "min_value": 0, "max_value": 100}},
            {"expect_column_values_to_not_be_null": {"column": "carrier"}},
            {"expect_table_row_count_to_be_between": {"min_value": 1, "max_value": 10}},
            {"expect_column_mean_to_be_between": {"column": "dep", "min_value": 30, "max_value": 40}},
        ],
        store(FRAME),
        chunk_rows=4,
    )
    assert (result.table, rows_of(result)) == ([], {})
    assert [e["success"] for e in result.details["expectations"]] == [True, True, True, True]


def test_row_level_expectations_fail_their_unexpected_rows_across_chunks(store: Store) -> None:
    between = "expect_column_values_to_be_between(column=air_time, min_value=0, max_value=900)"
    in_set = "expect_column_values_to_be_in_set(column=carrier, value_set=['AA', 'B6', 'DL', 'UA'])"
    pair = "expect_column_pair_values_a_to_be_greater_than_b(column_A=arr, column_B=dep)"
    result = check_expectations(
        [
            {"expect_column_values_to_be_between": {"column": "air_time", "min_value": 0, "max_value": 900}},
            {"expect_column_values_to_be_in_set": {"column": "carrier", "value_set": ["AA", "B6", "DL", "UA"]}},
            {"expect_column_pair_values_a_to_be_greater_than_b": {"column_A": "arr", "column_B": "dep"}},
        ],
        store(FRAME),
        chunk_rows=4,
    )
    assert result.table == []
    assert rows_of(result) == {
        1: [f"{between} (value 950)"],
        2: [f"{pair} (value (20, 30))"],
        3: [f"{in_set} (value 'ZZ')"],
        5: [f"{between} (value -5)"],
    }


def test_whole_column_expectations_and_mostly_run_on_the_whole_table(store: Store) -> None:
    frame = FRAME.assign(id=[1, 2, 3, 1, 5, 6])
    result = check_expectations(
        [
            {"expect_column_values_to_be_unique": {"column": "id"}},
            {"expect_column_values_to_be_between": {"column": "dep", "max_value": 50, "mostly": 0.8}},
            {"expect_column_values_to_be_between": {"column": "air_time", "max_value": 500, "mostly": 0.9}},
        ],
        store(frame),
        chunk_rows=2,
    )
    assert result.table == []
    assert rows_of(result) == {
        0: ["expect_column_values_to_be_unique(column=id) (value 1)"],
        1: ["expect_column_values_to_be_between(column=air_time, max_value=500, mostly=0.9) (value 950)"],
        3: ["expect_column_values_to_be_unique(column=id) (value 1)"],
    }


def test_failing_aggregate_and_broken_expectations_are_table_failures(store: Store) -> None:
    result = check_expectations(
        [
            {"expect_column_mean_to_be_between": {"column": "dep", "max_value": 10}},
            {"expect_table_columns_to_match_set": {"column_set": ["id"], "exact_match": True}},
            {"expect_column_values_to_not_be_null": {"column": "nope"}},
        ],
        store(FRAME),
        chunk_rows=4,
    )
    assert rows_of(result) == {}
    assert result.table[0] == "expect_column_mean_to_be_between(column=dep, max_value=10): failed (observed 35.0)"
    assert result.table[1] == "expect_table_columns_to_match_set(column_set=['id'], exact_match=True): failed (observed ['air_time', 'arr', 'carrier', 'dep', 'id'])"
    assert result.table[2] == 'expect_column_values_to_not_be_null(column=nope): could not run: Error: The column "nope" in BatchData does not exist.'


def test_penguins_without_sex_fail_not_null(store: Store, penguins_csv: Path) -> None:
    frame = pd.read_csv(penguins_csv)
    result = check_expectations([{"expect_column_values_to_not_be_null": {"column": "sex"}}], store(frame), chunk_rows=50)
    assert sorted(rows_of(result)) == frame.index[frame.sex.isna()].tolist()
    assert len(rows_of(result)) == 11
