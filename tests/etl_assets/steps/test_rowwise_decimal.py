"""Expressions over decimal columns (SQL NUMERIC arrives as Python Decimals)."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa

from etl_assets.config.models.steps import DeriveStep, FilterStep
from etl_assets.steps import run_steps
from etl_assets.tables import TableWriter, write_table


def test_derive_and_filter_on_a_decimal_column_compute_as_read_sql_floats(tmp_path: Path) -> None:
    amounts = [Decimal("1.50"), None, Decimal("20.25")]
    data = write_table(tmp_path / "in.parquet", [pa.table({"amount": pa.array(amounts, pa.decimal128(10, 2))})])
    steps = [DeriveStep(derive={"doubled": "amount * 2"}), FilterStep(filter="amount > 1.6")]
    with TableWriter(tmp_path / "out.parquet") as writer:
        run_steps("t", data, steps, {}, writer)
        out = writer.commit().to_pandas()
    assert out["doubled"].tolist() == [40.5]
    assert out["amount"].tolist() == [Decimal("20.25")]  # the column itself keeps its decimals
    expected = pd.DataFrame({"amount": [1.5, None, 20.25]})
    assert expected.eval("amount * 2").iloc[2] == 40.5
