"""Whole-table steps compared with pandas on the same frame."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from etl_assets.steps import StepError


def test_dedupe_subset_keep_first_and_last(run, roundtrip, penguins):
    frame = penguins.to_pandas()
    for keep in ("first", "last"):
        result = run(penguins, [{"dedupe": {"subset": ["species", "island"], "keep": keep}}], chunk_rows=7)
        expected = frame.drop_duplicates(subset=["species", "island"], keep=keep)
        assert len(result) == 5
        assert_frame_equal(result, roundtrip(expected))
    first = run(penguins, [{"dedupe": {"subset": ["species", "island"]}}])
    last = run(penguins, [{"dedupe": {"subset": ["species", "island"], "keep": "last"}}])
    assert not first.equals(last)


def test_dedupe_whole_rows(run, roundtrip, store, penguins):
    frame = penguins.to_pandas()
    doubled = store(pd.concat([frame, frame.iloc[:50]], ignore_index=True))
    result = run(doubled, [{"dedupe": {}}], chunk_rows=7)
    assert len(result) == 344
    assert_frame_equal(result, roundtrip(frame))


def test_sort_is_stable_with_nulls_last(run, roundtrip, penguins):
    frame = penguins.to_pandas()
    for descending in (False, True):
        steps = [{"sort": {"by": ["sex", "body_mass_g"], "descending": descending}}]
        result = run(penguins, steps, chunk_rows=7)
        expected = frame.sort_values(
            ["sex", "body_mass_g"], ascending=not descending, kind="mergesort", na_position="last"
        )
        assert result["sex"].isna().tolist()[-11:] == [True] * 11
        assert_frame_equal(result, roundtrip(expected))


def test_aggregate_every_function(run, roundtrip, penguins):
    metrics = {
        "n": "count(*)",
        "n_sex": "count(sex)",
        "mass_sum": "sum(body_mass_g)",
        "mass_mean": "mean(body_mass_g)",
        "mass_min": "min(body_mass_g)",
        "mass_max": "max(body_mass_g)",
        "mass_median": "median(body_mass_g)",
        "islands": "nunique(island)",
        "mass_sd": "std(body_mass_g)",
        "first_sex": "first(sex)",
        "last_sex": "last(sex)",
        "year_sum": "sum(year)",
    }
    result = run(penguins, [{"aggregate": {"by": ["species", "sex"], "metrics": metrics}}], chunk_rows=7)
    frame = penguins.to_pandas()
    expected = (
        frame.groupby(["species", "sex"], sort=True, dropna=False)
        .agg(
            n=("species", "size"),
            n_sex=("sex", "count"),
            mass_sum=("body_mass_g", "sum"),
            mass_mean=("body_mass_g", "mean"),
            mass_min=("body_mass_g", "min"),
            mass_max=("body_mass_g", "max"),
            mass_median=("body_mass_g", "median"),
            islands=("island", "nunique"),
            mass_sd=("body_mass_g", "std"),
            first_sex=("sex", "first"),
            last_sex=("sex", "last"),
            year_sum=("year", "sum"),
        )
        .reset_index()
    )
    assert list(result.columns) == ["species", "sex", *metrics]
    # 3 species x (female, male) + null-sex groups for Adelie and Gentoo (dropna=False, sorted last)
    assert len(result) == 8 and result["n"].sum() == 344
    adelie_null = result[(result["species"] == "Adelie") & result["sex"].isna()]
    assert adelie_null["n"].item() == 6 and adelie_null["n_sex"].item() == 0
    assert_frame_equal(result, roundtrip(expected))


def test_aggregate_std_is_the_sample_sd(run, store):
    table = store(pd.DataFrame({"g": ["a", "a", "a", "b"], "x": [1.0, 2.0, 3.0, 5.0]}))
    result = run(table, [{"aggregate": {"by": ["g"], "metrics": {"sd": "std(x)"}}}])
    assert result["sd"][0] == pytest.approx(1.0) and np.isnan(result["sd"][1])


def test_aggregate_without_by_gives_one_row(run, store, penguins):
    metrics = {"n": "count(*)", "mass": "sum(body_mass_g)", "mean": "mean(bill_length_mm)", "first": "first(sex)"}
    result = run(penguins, [{"aggregate": {"metrics": metrics}}])
    frame = penguins.to_pandas()
    assert len(result) == 1
    assert result["n"][0] == 344 and result["mass"][0] == frame["body_mass_g"].sum()
    assert result["mean"][0] == pytest.approx(frame["bill_length_mm"].mean())
    assert result["first"][0] == "male"
    empty = run(penguins, [{"filter": "year < 0"}, {"aggregate": {"metrics": {"n": "count(*)", "m": "max(year)"}}}])
    assert len(empty) == 1 and empty["n"][0] == 0 and pd.isna(empty["m"][0])


def test_aggregate_unknown_metric_column(run, penguins):
    with pytest.raises(StepError) as info:
        run(penguins, [{"aggregate": {"by": ["species"], "metrics": {"m": "mean(mass)"}}}])
    assert "step 1 (aggregate): unknown column 'mass' in metrics; columns are: species, island" in str(info.value)


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_join_on_a_column_list(run, roundtrip, store, flights, airlines, how):
    # keep a carrier without flights and a flight carrier without airline, so every `how` differs
    some_airlines = store(airlines.to_pandas().query("carrier != 'AA'"))
    result = run(flights, [{"join": {"with": "carriers", "on": ["carrier"], "how": how}}], {"carriers": some_airlines}, chunk_rows=500)
    expected = pd.merge(flights.to_pandas(), some_airlines.to_pandas(), how=how, on=["carrier"])
    assert "name" in result.columns
    assert_frame_equal(result, roundtrip(expected))


def test_join_hows_differ(run, store, flights, airlines):
    some_airlines = store(airlines.to_pandas().query("carrier != 'AA'"))
    sizes = {
        how: len(run(flights, [{"join": {"with": "a", "on": ["carrier"], "how": how}}], {"a": some_airlines}))
        for how in ("inner", "left", "right", "outer")
    }
    assert sizes["inner"] < sizes["left"] == 3000 < sizes["outer"]
    assert sizes["right"] > sizes["inner"]


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_join_with_a_left_right_mapping(run, roundtrip, flights, airports, how):
    steps = [{"join": {"with": "airports", "on": {"dest": "faa"}, "how": how}}]
    result = run(flights, steps, {"airports": airports})
    expected = pd.merge(flights.to_pandas(), airports.to_pandas(), how=how, left_on=["dest"], right_on=["faa"])
    assert {"dest", "faa", "name", "tzone"} <= set(result.columns)
    assert_frame_equal(result, roundtrip(expected))


def test_join_suffixes_overlapping_columns(run, roundtrip, flights, planes):
    result = run(flights, [{"join": {"with": "planes", "on": ["tailnum"], "how": "left"}}], {"planes": planes})
    assert "year_x" in result.columns and "year_y" in result.columns
    expected = pd.merge(flights.to_pandas(), planes.to_pandas(), how="left", on=["tailnum"])
    assert_frame_equal(result, roundtrip(expected))


def test_join_unknown_columns_on_each_side_and_unknown_asset(run, flights, airports):
    with pytest.raises(StepError) as info:
        run(flights, [{"join": {"with": "airports", "on": {"destination": "faa"}}}], {"airports": airports})
    assert "step 1 (join): unknown column 'destination'; columns are: year, month" in str(info.value)
    with pytest.raises(StepError) as info:
        run(flights, [{"join": {"with": "airports", "on": {"dest": "code"}}}], {"airports": airports})
    assert (
        "step 1 (join): unknown column 'code' in 'airports' (the right side of the join); "
        "columns are: faa, name, lat, lon, alt, tz, dst, tzone" in str(info.value)
    )
    with pytest.raises(StepError, match=r"step 1 \(join\): join: the asset 'nope' is not available; assets given are: airports"):
        run(flights, [{"join": {"with": "nope", "on": ["carrier"]}}], {"airports": airports})


def test_union_aligns_columns_and_fills_missing_with_null(run, roundtrip, store, penguins):
    frame = penguins.to_pandas()
    extra = store(frame.iloc[:5].drop(columns=["sex"]).assign(note="extra"))
    result = run(penguins, [{"union": ["extra"]}], {"extra": extra}, chunk_rows=7)
    expected = pd.concat([frame, extra.to_pandas()], ignore_index=True)
    assert len(result) == 349 and list(result.columns) == [*frame.columns, "note"]
    assert result["sex"].iloc[-5:].isna().all() and result["note"].iloc[:344].isna().all()
    assert_frame_equal(result, roundtrip(expected))


def test_scale_standard_uses_the_population_sd(run, penguins):
    result = run(penguins, [{"scale": {"columns": ["body_mass_g", "year"], "method": "standard"}}], chunk_rows=7)
    frame = penguins.to_pandas()
    x = frame["body_mass_g"].to_numpy(dtype=float)
    mean = np.nanmean(x)
    sd = np.sqrt(np.nansum((x - mean) ** 2) / np.sum(~np.isnan(x)))  # ddof=0, like StandardScaler
    np.testing.assert_allclose(result["body_mass_g"].to_numpy(), (x - mean) / sd, rtol=1e-12)
    assert result["body_mass_g"].isna().sum() == 2
    assert np.nanmean(result["body_mass_g"]) == pytest.approx(0, abs=1e-12)
    assert np.nanstd(result["body_mass_g"]) == pytest.approx(1)
    assert result["year"].dtype == np.float64
    y = frame["year"].to_numpy(dtype=float)
    np.testing.assert_allclose(result["year"].to_numpy(), (y - y.mean()) / y.std(), rtol=1e-12)


def test_scale_minmax(run, penguins):
    result = run(penguins, [{"scale": {"columns": ["flipper_length_mm"], "method": "minmax"}}], chunk_rows=7)
    x = penguins.to_pandas()["flipper_length_mm"].to_numpy(dtype=float)
    expected = (x - np.nanmin(x)) / (np.nanmax(x) - np.nanmin(x))
    np.testing.assert_allclose(result["flipper_length_mm"].to_numpy(), expected, rtol=1e-12)
    assert np.nanmin(result["flipper_length_mm"]) == 0.0 and np.nanmax(result["flipper_length_mm"]) == 1.0


def test_scale_constant_column_becomes_zero_and_text_is_refused(run, store):
    table = store(pd.DataFrame({"c": [0.1, 0.1, 0.1, None], "s": ["a", "b", "c", "d"]}))
    for method in ("standard", "minmax"):
        result = run(table, [{"scale": {"columns": ["c"], "method": method}}])
        assert result["c"].tolist()[:3] == [0.0, 0.0, 0.0] and np.isnan(result["c"][3])
    with pytest.raises(StepError, match=r"step 1 \(scale\): column 's' is not numeric"):
        run(table, [{"scale": {"columns": ["s"]}}])


def test_one_hot_names_and_order(run, roundtrip, penguins):
    result = run(penguins, [{"one_hot": {"columns": ["island", "sex"]}}], chunk_rows=7)
    frame = penguins.to_pandas()
    expected = pd.get_dummies(frame, columns=["island", "sex"], dtype="int64")
    new = ["island_Biscoe", "island_Dream", "island_Torgersen", "sex_female", "sex_male"]
    assert list(result.columns) == [c for c in frame.columns if c not in ("island", "sex")] + new
    null_sex = frame["sex"].isna()
    assert (result.loc[null_sex, ["sex_female", "sex_male"]] == 0).all().all()
    assert_frame_equal(result, roundtrip(expected))


def test_one_hot_keeping_the_original_and_numbers(run, penguins):
    result = run(penguins, [{"one_hot": {"columns": ["year"], "drop_original": False}}])
    assert list(result.columns)[-4:] == ["year", "year_2007", "year_2008", "year_2009"]
    assert result[["year_2007", "year_2008", "year_2009"]].sum(axis=1).eq(1).all()
    assert result["year_2008"].sum() == (penguins.to_pandas()["year"] == 2008).sum()


def test_python_step_calls_a_function_from_the_config_directory(run, roundtrip, tmp_path, penguins):
    (tmp_path / "steps_user_mod_a.py").write_text(
        "def heavy(df):\n    return df[df['body_mass_g'] > 5000].assign(kg=df['body_mass_g'] / 1000)\n"
    )
    result = run(penguins, [{"python": "steps_user_mod_a:heavy"}], import_paths=[tmp_path])
    frame = penguins.to_pandas()
    expected = frame[frame["body_mass_g"] > 5000].assign(kg=frame["body_mass_g"] / 1000)
    assert len(result) == 61
    assert_frame_equal(result, roundtrip(expected))
    import sys

    assert str(tmp_path) not in sys.path


def test_python_step_errors(run, tmp_path, penguins):
    (tmp_path / "steps_user_mod_b.py").write_text(
        "def count(df):\n    return len(df)\n\ndef broken(df):\n    raise ValueError('no good')\n"
    )
    with pytest.raises(StepError, match=r"step 1 \(python\): steps_user_mod_b:count returned int, not a pandas DataFrame"):
        run(penguins, [{"python": "steps_user_mod_b:count"}], import_paths=[tmp_path])
    with pytest.raises(StepError, match=r"steps_user_mod_b:broken raised ValueError: no good"):
        run(penguins, [{"python": "steps_user_mod_b:broken"}], import_paths=[tmp_path])
    with pytest.raises(StepError, match=r"module 'steps_user_mod_b' has no function 'missing'"):
        run(penguins, [{"python": "steps_user_mod_b:missing"}], import_paths=[tmp_path])
    with pytest.raises(StepError, match=r"cannot import 'steps_user_mod_none'"):
        run(penguins, [{"python": "steps_user_mod_none:f"}], import_paths=[tmp_path])
