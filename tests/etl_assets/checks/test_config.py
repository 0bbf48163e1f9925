"""Checks in config files: expectation names and kwargs are validated against a static catalog of
Great Expectations (which must match the installed GX), without importing GX."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from etl_assets.checks import gx_catalog
from etl_assets.config import ConfigValidationError, load_pipeline

ROOT = Path(__file__).resolve().parents[3]

CONFIG = """\
pipeline: p
sources:
  - name: s
    type: file
    path: data.csv
    checks:
      on_failure: warn
      expectations:
{expectations}
targets:
  - name: t
    input: s
    type: file
    path: out.csv
"""


def write(tmp_path: Path, expectations: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(CONFIG.format(expectations=textwrap.indent(textwrap.dedent(expectations), " " * 8)))
    return path


def errors(path: Path) -> list[str]:
    with pytest.raises(ConfigValidationError) as exc:
        load_pipeline(path)
    return [f"{e.line}:{e.col}: {e.message}" for e in exc.value.errors]


def test_the_stored_catalog_matches_the_installed_great_expectations() -> None:
    from etl_assets.checks.gx_catalog_gen import catalog, render

    import great_expectations as gx

    assert gx_catalog.GX_VERSION == gx.__version__, "regenerate: python -m etl_assets.checks.gx_catalog_gen > etl_assets/checks/gx_catalog.py"
    assert gx_catalog.EXPECTATIONS == catalog()
    assert (ROOT / "etl_assets/checks/gx_catalog.py").read_text() == render()


def test_valid_expectations_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        - expect_column_values_to_be_between: {column: air_time, min_value: 0, max_value: 900, mostly: 0.99}
        - expect_column_values_to_be_in_set: {column: carrier, value_set: [AA, B6]}
        - expect_table_columns_to_match_set:
        - expect_column_pair_values_a_to_be_greater_than_b: {column_A: arr, column_B: dep, or_equal: true}
        - expect_column_values_to_not_be_outliers: {column: x, method: iqr}
        """,
    )
    checks = load_pipeline(path).config.sources[0].checks
    assert checks is not None and len(checks.expectations) == 5
    assert checks.expectations[2] == {"expect_table_columns_to_match_set": {}}


def test_unknown_names_and_bad_kwargs_are_errors_with_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        - expect_column_values_to_be_betwen: {column: a}
        - expect_column_values_to_be_between: {column: a, min: 3}
        - expect_column_values_to_be_in_set: {value_set: [1]}
        - expect_column_values_to_be_between: {column: a, max_value: [1], strict_max: maybe}
        - expect_column_values_to_not_be_outliers: {column: x, method: median}
        - {expect_column_values_to_be_unique: {column: a}, expect_column_values_to_not_be_null: {column: a}}
        """,
    )
    assert errors(path) == [
        "9:11: unknown expectation 'expect_column_values_to_be_betwen'; did you mean 'expect_column_values_to_be_between'?",
        "10:11: expect_column_values_to_be_between: unknown argument 'min'; allowed: column, condition_parser, description, "
        "max_value, meta, min_value, mostly, notes, row_condition, strict_max, strict_min",
        "11:11: expect_column_values_to_be_in_set: missing required argument 'column'",
        "12:11: expect_column_values_to_be_between: 'max_value' must be a number or a date or null, got [1]; "
        "expect_column_values_to_be_between: 'strict_max' must be true or false, got 'maybe'",
        "13:11: expect_column_values_to_not_be_outliers: 'method' must be one of iqr, std, got 'median'",
        "14:11: each expectation is a one-key mapping: {expect_name: {kwargs}}",
    ]


def test_validation_and_building_definitions_do_not_import_gx_or_pandera(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a\n1\n")
    write(tmp_path, "- expect_column_values_to_be_between: {column: a, min_value: 0}\n")
    (tmp_path / "q.yaml").write_text(
        (tmp_path / "p.yaml").read_text().replace("pipeline: p", "pipeline: q").replace(
            "on_failure: warn\n      expectations:\n        - expect_column_values_to_be_between: {column: a, min_value: 0}",
            "columns: {a: {type: integer}}",
        )
    )
    code = (
        "import sys; from pathlib import Path; from etl_assets.definitions import load_definitions; "
        f"defs = load_definitions(Path({str(tmp_path)!r})); defs.resolve_job_def('p'); defs.resolve_job_def('q'); "
        "print(sorted(m for m in ('great_expectations', 'pandera') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
