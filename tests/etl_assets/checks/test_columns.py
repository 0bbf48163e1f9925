"""`columns` rules and `strict` (pandera), each passing and failing, chunked like the whole."""
from __future__ import annotations

from typing import Any, Callable

import pandas as pd
import pytest

from etl_assets.checks.columns import check_columns
from etl_assets.config.models import ChecksConfig
from etl_assets.tables import StoredTable
from tests.etl_assets.checks.conftest import rows_of

Store = Callable[[pd.DataFrame], StoredTable]


def run(store: Store, frame: pd.DataFrame, columns: dict[str, Any], strict: Any = False, chunk_rows: int = 3) -> tuple[list[str], dict[int, list[str]], list[str]]:
    """(table failures, {row: reasons}, dropped columns)."""
    checks = ChecksConfig.model_validate({"columns": columns, "strict": strict})
    result, dropped = check_columns(checks, store(frame), chunk_rows)
    return result.table, rows_of(result), dropped


FRAME = pd.DataFrame(
    {
        "id": [1, 2, 3, 4, 5, 6, 7],
        "carrier": ["AA", "B6", "DL", "UA", "AA", "DL", "B6"],
        "distance": [100, 200, 300, 4999, 5000, 0, 17],
        "tailnum": ["N1A", "N22", "N333", "N44", "N5", "N66", "N7"],
        "ratio": [0.5, 0.25, 0.75, 0.9, 0.6, None, 0.1],
    }
)


@pytest.mark.parametrize(
    ("rule", "column", "bad_value", "reason"),
    [
        ({"type": "integer"}, "distance", "12x", "distance type integer (value '12x')"),
        ({"type": "float"}, "ratio", "half", "ratio type float (value 'half')"),
        ({"nullable": False}, "tailnum", None, "tailnum not null (value null)"),
        ({"unique": True}, "id", 1, "id unique (value 1)"),
        ({"ge": 0}, "distance", -1, "distance ge 0 (value -1)"),
        ({"gt": 0}, "ratio", 0.0, "ratio gt 0 (value 0)"),
        ({"le": 5000}, "distance", 5001, "distance le 5000 (value 5001)"),
        ({"lt": 1}, "ratio", 1.5, "ratio lt 1 (value 1.5)"),
        ({"isin": ["AA", "B6", "DL", "UA"]}, "carrier", "ZZ", "carrier isin ['AA', 'B6', 'DL', 'UA'] (value 'ZZ')"),
        ({"notin": ["HA"]}, "carrier", "HA", "carrier notin ['HA'] (value 'HA')"),
        ({"regex": "^N[0-9A-Z]+$"}, "tailnum", "X123", "tailnum regex ^N[0-9A-Z]+$ (value 'X123')"),
        ({"min_length": 2}, "tailnum", "N", "tailnum min_length 2 (value 'N')"),
        ({"max_length": 4}, "tailnum", "N12345", "tailnum max_length 4 (value 'N12345')"),
    ],
)
def test_each_rule_passes_on_clean_data_and_fails_exactly_the_bad_row(
    store: Store, rule: dict[str, Any], column: str, bad_value: Any, reason: str
) -> None:
    table_failures, rows, _ = run(store, FRAME, {column: rule})
    assert (table_failures, rows) == ([], {})
    dirty = FRAME.copy()
    if rule.get("type"):  # as read from a CSV file whose column holds a bad value: text
        dirty[column] = dirty[column].map(lambda v: None if pd.isna(v) else str(v))
    dirty.loc[4, column] = bad_value
    table_failures, rows, _ = run(store, dirty, {column: rule})
    assert table_failures == []
    expected_rows = {0: [reason], 4: [reason]} if rule.get("unique") else {4: [reason]}
    assert rows == expected_rows


def test_a_row_failing_two_rules_carries_both_reasons(store: Store) -> None:
    dirty = FRAME.copy()
    dirty.loc[2, "carrier"] = "ZZZZ"
    _, rows, _ = run(store, dirty, {"carrier": {"isin": ["AA", "B6", "DL", "UA"], "max_length": 2}})
    assert rows == {2: ["carrier isin ['AA', 'B6', 'DL', 'UA'] (value 'ZZZZ')", "carrier max_length 2 (value 'ZZZZ')"]}


def test_type_is_checked_value_by_value_on_text_and_nulls_pass(store: Store) -> None:
    frame = pd.DataFrame({"n": ["1", "2", "x", None, " 4 ", "1.5", "", "7"]})
    _, rows, _ = run(store, frame, {"n": {"type": "integer", "le": 5}}, chunk_rows=3)
    assert rows == {
        2: ["n type integer (value 'x')"],
        5: ["n type integer (value '1.5')"],
        7: ["n le 5 (value '7')"],
    }


def test_a_value_that_fails_its_type_is_not_also_reported_as_null(store: Store) -> None:
    frame = pd.DataFrame({"n": ["1", "abc", None]})
    _, rows, _ = run(store, frame, {"n": {"type": "integer", "nullable": False}})
    assert rows == {1: ["n type integer (value 'abc')"], 2: ["n not null (value null)"]}


def test_a_column_of_another_kind_fails_its_type_for_the_whole_table(store: Store) -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    table_failures, rows, _ = run(store, frame, {"when": {"type": "integer"}})
    assert rows == {}
    assert table_failures == ["when: column holds timestamp[ns] values, not integer"]


def test_ranges_on_a_text_column_without_type_read_numbers(store: Store) -> None:
    frame = pd.DataFrame({"x": ["1", "n/a", "300"]})
    _, rows, _ = run(store, frame, {"x": {"le": 100}})
    assert rows == {1: ["x not a number (value 'n/a')"], 2: ["x le 100 (value '300')"]}


def test_unique_across_chunks_reports_every_occurrence_and_ignores_nulls(store: Store) -> None:
    frame = pd.DataFrame({"k": [1, 2, None, 3, 2, None, 4, 2]}, dtype="Int64")
    _, rows, _ = run(store, frame, {"k": {"unique": True}}, chunk_rows=2)
    assert rows == {1: ["k unique (value 2)"], 4: ["k unique (value 2)"], 7: ["k unique (value 2)"]}


def test_strict_true_fails_unexpected_columns_and_a_missing_column_always_fails(store: Store) -> None:
    table_failures, rows, dropped = run(store, FRAME, {"id": {}, "carrier": {}, "nope": {}}, strict=True)
    assert sorted(table_failures) == [
        "distance: unexpected column (strict)",
        "nope: declared column is missing",
        "ratio: unexpected column (strict)",
        "tailnum: unexpected column (strict)",
    ]
    assert (rows, dropped) == ({}, [])
    table_failures, _, _ = run(store, FRAME, {"id": {}, "carrier": {}, "distance": {}, "tailnum": {}, "ratio": {}}, strict=True)
    assert table_failures == []


def test_strict_filter_drops_unexpected_columns_without_failing(store: Store) -> None:
    table_failures, rows, dropped = run(store, FRAME, {"id": {}, "carrier": {}}, strict="filter")
    assert (table_failures, rows, dropped) == ([], {}, ["distance", "tailnum", "ratio"])


def test_a_rule_that_cannot_apply_to_the_column_is_a_table_failure(store: Store) -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-01-02"]), "flag": [True, False]})
    table_failures, rows, _ = run(store, frame, {"when": {"ge": 0}, "flag": {"type": "date"}})
    assert rows == {}
    assert table_failures[0].startswith("flag: column holds bool values, not date")
    assert table_failures[1].startswith("when ge 0: cannot be evaluated on this column (TypeError")


def test_ranges_on_text_that_holds_no_numbers_fail_every_row(store: Store) -> None:
    _, rows, _ = run(store, FRAME, {"carrier": {"ge": 0}})
    assert len(rows) == len(FRAME) and rows[0] == ["carrier not a number (value 'AA')"]


def test_chunked_validation_finds_the_same_rows_as_one_chunk(store: Store, penguins_csv: Any) -> None:
    frame = pd.read_csv(penguins_csv)
    rules = {
        "sex": {"nullable": False, "isin": ["male", "female"]},
        "body_mass_g": {"le": 6000, "nullable": False},
        "island": {"regex": "^(Biscoe|Dream)$"},
    }
    whole = run(store, frame, rules, chunk_rows=1000)
    chunked = run(store, frame, rules, chunk_rows=7)
    assert whole == chunked
    _, rows, _ = whole
    expected = frame.index[frame.sex.isna() | frame.body_mass_g.isna() | (frame.body_mass_g > 6000) | (frame.island == "Torgersen")]
    assert sorted(rows) == list(expected)
