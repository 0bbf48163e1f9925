"""pivot and unpivot compared with pandas."""
from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from etl_assets.steps import StepError


@pytest.mark.parametrize("agg", ["mean", "count", "sum", "first", "max", "nunique"])
def test_pivot_is_pivot_table_with_string_column_names(run, roundtrip, penguins, agg):
    step = {"pivot": {"index": ["species", "island"], "columns": "year", "values": "body_mass_g", "agg": agg}}
    result = run(penguins, [step], chunk_rows=7)
    wide = penguins.to_pandas().pivot_table(index=["species", "island"], columns="year", values="body_mass_g", aggfunc=agg)
    wide.columns = [str(c) for c in wide.columns]
    assert list(result.columns) == ["species", "island", "2007", "2008", "2009"]
    assert len(result) == 5
    assert_frame_equal(result, roundtrip(wide.reset_index()))


def test_pivot_leaves_out_rows_with_a_null_index(run, penguins):
    step = {"pivot": {"index": ["sex"], "columns": "species", "values": "bill_length_mm", "agg": "mean"}}
    result = run(penguins, [step])
    assert result["sex"].tolist() == ["female", "male"]
    assert list(result.columns) == ["sex", "Adelie", "Chinstrap", "Gentoo"]
    frame = penguins.to_pandas()
    female_adelie = frame.query("sex == 'female' and species == 'Adelie'")["bill_length_mm"].mean()
    assert result.loc[0, "Adelie"] == pytest.approx(female_adelie)


def test_pivot_of_an_empty_table_keeps_the_index_columns(run, penguins):
    step = {"pivot": {"index": ["species"], "columns": "year", "values": "body_mass_g", "agg": "sum"}}
    result = run(penguins, [{"filter": "year < 0"}, step])
    assert len(result) == 0 and list(result.columns) == ["species"]


def test_unpivot_is_melt(run, roundtrip, penguins):
    step = {
        "unpivot": {
            "id_columns": ["species", "island"],
            "value_columns": ["bill_length_mm", "bill_depth_mm"],
            "variable": "measure",
            "value": "mm",
        }
    }
    result = run(penguins, [step], chunk_rows=7)
    expected = pd.melt(
        penguins.to_pandas(),
        id_vars=["species", "island"],
        value_vars=["bill_length_mm", "bill_depth_mm"],
        var_name="measure",
        value_name="mm",
    )
    assert list(result.columns) == ["species", "island", "measure", "mm"] and len(result) == 688
    # column-major like melt: all bill lengths first, then all bill depths
    assert result["measure"].iloc[343] == "bill_length_mm" and result["measure"].iloc[344] == "bill_depth_mm"
    assert_frame_equal(result, roundtrip(expected))


def test_unpivot_defaults_to_every_other_column(run, roundtrip, airports):
    step = {"unpivot": {"id_columns": ["faa"], "value_columns": None}}
    result = run(airports, [{"select": ["faa", "lat", "lon"]}, step])
    expected = pd.melt(airports.to_pandas()[["faa", "lat", "lon"]], id_vars=["faa"])
    assert list(result.columns) == ["faa", "variable", "value"] and set(result["variable"]) == {"lat", "lon"}
    assert_frame_equal(result, roundtrip(expected))


def test_unpivot_unknown_column(run, penguins):
    with pytest.raises(StepError) as info:
        run(penguins, [{"unpivot": {"id_columns": ["species"], "value_columns": ["bill_mm"]}}])
    assert "step 1 (unpivot): unknown column 'bill_mm'; columns are: species, island" in str(info.value)
