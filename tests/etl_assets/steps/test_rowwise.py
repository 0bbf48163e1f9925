"""Row-wise steps: each equals pandas on the whole table, and chunking does not change the result."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from etl_assets.steps import StepError


def test_select_keeps_columns_in_the_given_order(run, roundtrip, penguins):
    result = run(penguins, [{"select": ["year", "species", "body_mass_g"]}])
    expected = penguins.to_pandas()[["year", "species", "body_mass_g"]]
    assert list(result.columns) == ["year", "species", "body_mass_g"]
    assert_frame_equal(result, roundtrip(expected))


def test_select_rejects_a_column_listed_twice(run, penguins):
    with pytest.raises(StepError, match=r"step 1 \(select\): select lists column 'year' twice"):
        run(penguins, [{"select": ["year", "year"]}])


def test_drop_removes_columns(run, roundtrip, penguins):
    result = run(penguins, [{"drop": ["sex", "island"]}])
    assert "sex" not in result.columns and "island" not in result.columns
    assert_frame_equal(result, roundtrip(penguins.to_pandas().drop(columns=["sex", "island"])))


def test_rename(run, roundtrip, weather):
    result = run(weather, [{"rename": {"temp": "temperature", "origin": "airport"}}])
    expected = weather.to_pandas().rename(columns={"temp": "temperature", "origin": "airport"})
    assert list(result.columns)[:6] == ["airport", "year", "month", "day", "hour", "temperature"]
    assert_frame_equal(result, roundtrip(expected))


def test_rename_onto_an_existing_column_is_an_error(run, weather):
    with pytest.raises(StepError, match="rename would give two columns named 'dewp'"):
        run(weather, [{"rename": {"temp": "dewp"}}])


def test_filter_is_a_pandas_query(run, roundtrip, flights):
    expr = "dep_delay > 0 and carrier != 'UA'"
    result = run(flights, [{"filter": expr}])
    frame = flights.to_pandas()
    expected = frame.query(expr)
    assert 0 < len(result) < len(frame)
    assert set(result["carrier"]) - {"UA"} == set(result["carrier"])
    assert_frame_equal(result, roundtrip(expected))


def test_filter_on_nullable_integers_treats_null_as_false(run, roundtrip, flights):
    """dep_delay cast to Int64 keeps its nulls; `> 0` is NA there and such rows are dropped."""
    frame = flights.to_pandas()
    assert frame["dep_delay"].isna().any()
    steps = [{"cast": {"dep_delay": "integer"}}, {"filter": "dep_delay > 0 and carrier != 'HA'"}]
    result = run(flights, steps)
    as_int = frame.assign(dep_delay=frame["dep_delay"].astype("Int64"))
    expected = as_int.query("dep_delay > 0 and carrier != 'HA'")
    assert result["dep_delay"].dtype == "Int64" and not result["dep_delay"].isna().any()
    assert_frame_equal(result, roundtrip(expected))
    positive = run(flights, [{"cast": {"dep_delay": "integer"}}, {"filter": "dep_delay > 0"}])
    negated = run(flights, [{"cast": {"dep_delay": "integer"}}, {"filter": "not (dep_delay > 0)"}])
    assert len(negated) == len(as_int.query("not (dep_delay > 0)"))
    assert len(positive) + len(negated) + frame["dep_delay"].isna().sum() == len(frame)


def test_filter_with_string_methods_and_in_lists(run, roundtrip, airports):
    expr = "tzone.str.startswith('America/') and dst in ['A', 'U'] and alt > 1000"
    result = run(airports, [{"filter": expr}])
    assert len(result) > 0
    assert_frame_equal(result, roundtrip(airports.to_pandas().query(expr)))


def test_filter_must_give_true_or_false(run, penguins):
    with pytest.raises(StepError, match=r"step 1 \(filter\): filter expression 'body_mass_g \* 2' must be true or false"):
        run(penguins, [{"filter": "body_mass_g * 2"}])


def test_filter_with_a_constant_keeps_all_or_nothing(run, penguins):
    assert len(run(penguins, [{"filter": "1 > 0"}])) == 344
    result = run(penguins, [{"filter": "1 < 0"}])
    assert len(result) == 0 and list(result.columns) == list(penguins.schema.names)


def test_derive_adds_and_replaces_columns(run, roundtrip, flights):
    result = run(flights, [{"derive": {"speed_mph": "distance / air_time * 60", "distance": "distance * 2"}}])
    frame = flights.to_pandas()
    expected = frame.assign(speed_mph=frame.eval("distance / air_time * 60"))
    expected["distance"] = expected.eval("distance * 2")
    assert list(result.columns) == [*frame.columns, "speed_mph"]
    assert result["distance"].tolist() == (frame["distance"] * 2).tolist()
    assert_frame_equal(result, roundtrip(expected))


def test_derive_can_use_an_earlier_derived_column(run, roundtrip, penguins):
    steps = [{"derive": {"bill_ratio": "bill_length_mm / bill_depth_mm", "long_bill": "bill_ratio > 2.5"}}]
    result = run(penguins, steps, chunk_rows=7)
    frame = penguins.to_pandas()
    expected = frame.assign(bill_ratio=frame["bill_length_mm"] / frame["bill_depth_mm"])
    expected["long_bill"] = expected["bill_ratio"] > 2.5
    assert result["long_bill"].sum() == (expected["long_bill"]).sum() > 0
    assert_frame_equal(result, roundtrip(expected))


def test_derive_broadcasts_a_scalar(run, penguins):
    result = run(penguins, [{"derive": {"source": "'palmer'", "one": "1"}}], chunk_rows=50)
    assert (result["source"] == "palmer").all() and (result["one"] == 1).all() and len(result) == 344


def test_derive_unknown_name_is_an_unknown_column(run, penguins):
    with pytest.raises(StepError) as info:
        run(penguins, [{"derive": {"x": "bill_lenght_mm * 2"}}])
    message = str(info.value)
    assert message.startswith("transform t, step 1 (derive): unknown column 'bill_lenght_mm'")
    assert "columns are: species, island, bill_length_mm" in message


def test_fill_null(run, roundtrip, penguins):
    values = {"sex": "unknown", "body_mass_g": 0}
    result = run(penguins, [{"fill_null": values}])
    expected = penguins.to_pandas().fillna(values)
    assert (result["sex"] == "unknown").sum() == 11
    assert not result["body_mass_g"].isna().any()
    assert_frame_equal(result, roundtrip(expected))


def test_drop_null_columns_and_all(run, roundtrip, penguins):
    frame = penguins.to_pandas()
    some = run(penguins, [{"drop_null": ["body_mass_g"]}])
    assert len(some) == 342
    assert_frame_equal(some, roundtrip(frame.dropna(subset=["body_mass_g"])))
    every = run(penguins, [{"drop_null": "all"}])
    assert len(every) == 333  # any null in any column drops the row
    assert_frame_equal(every, roundtrip(frame.dropna()))


def test_trim_strips_strings_and_leaves_other_values(run, roundtrip, store):
    frame = pd.DataFrame({"a": ["  x ", "y\t", None, "z"], "b": [" 1", "2 ", " 3 ", None], "n": [1, 2, 3, 4]})
    table = store(frame)
    result = run(table, [{"trim": ["a"]}])
    assert result["a"].tolist() == ["x", "y", None, "z"] and result["b"].tolist() == [" 1", "2 ", " 3 ", None]
    result_all = run(table, [{"trim": "all"}])
    assert result_all["b"].tolist() == ["1", "2", "3", None]
    expected = table.to_pandas().assign(
        a=lambda f: f["a"].map(lambda v: v.strip() if isinstance(v, str) else v),
        b=lambda f: f["b"].map(lambda v: v.strip() if isinstance(v, str) else v),
    )
    assert_frame_equal(result_all, roundtrip(expected))


def test_trim_ignores_non_text_columns(run, roundtrip, penguins):
    result = run(penguins, [{"trim": ["year", "species"]}])
    assert_frame_equal(result, roundtrip(penguins.to_pandas()))


def test_replace_values(run, roundtrip, penguins):
    mapping = {"island": {"Biscoe": "B", "Dream": "D"}, "year": {2007: 7}}
    result = run(penguins, [{"replace": mapping}])
    frame = penguins.to_pandas()
    expected = frame.assign(island=frame["island"].replace(mapping["island"]), year=frame["year"].replace({2007: 7}))
    assert set(result["island"]) == {"B", "D", "Torgersen"} and (result["year"] == 7).sum() == 110
    assert_frame_equal(result, roundtrip(expected))


def test_replace_fits_yaml_keys_to_the_column_type(run, store):
    frame = pd.DataFrame({"n": [1, 2, 3], "code": ["1", "2", "x"], "flag": [True, False, True]})
    table = store(frame)
    # "2" written as a string still matches the integer 2; the integer key 1 matches the text "1".
    result = run(table, [{"replace": {"n": {"2": 20}, "code": {1: "one"}, "flag": {"false": True}}}])
    assert result["n"].tolist() == [1, 20, 3]
    assert result["code"].tolist() == ["one", "2", "x"]
    assert result["flag"].tolist() == [True, True, True]


ROW_WISE_PIPELINES = {
    "select": [{"select": ["island", "species", "bill_length_mm"]}],
    "drop": [{"drop": ["island"]}],
    "rename": [{"rename": {"island": "place"}}],
    "cast": [{"cast": {"body_mass_g": "integer", "year": "string", "bill_length_mm": "decimal"}}],
    "filter": [{"filter": "body_mass_g > 4000 or sex == 'female'"}],
    "derive": [{"derive": {"mass_kg": "body_mass_g / 1000", "heavy": "mass_kg > 4", "row": "index"}}],
    "fill_null": [{"fill_null": {"sex": "n/a", "bill_depth_mm": -1}}],
    "drop_null": [{"drop_null": ["sex"]}],
    "trim": [{"trim": "all"}],
    "replace": [{"replace": {"species": {"Adelie": "A"}}}],
    "mixed": [
        {"filter": "species != 'Gentoo'"},
        {"derive": {"row": "index", "ratio": "bill_length_mm / bill_depth_mm"}},
        {"drop_null": "all"},
        {"cast": {"row": "string"}},
    ],
}


@pytest.mark.parametrize("name", list(ROW_WISE_PIPELINES))
def test_chunks_give_the_same_result_as_one_chunk(run, penguins, name):
    steps = ROW_WISE_PIPELINES[name]
    whole = run(penguins, steps, chunk_rows=1_000)
    chunked = run(penguins, steps, chunk_rows=7)
    assert len(whole) > 0
    assert_frame_equal(chunked, whole)


def test_index_in_expressions_is_the_row_position_also_across_chunks(run, penguins):
    steps = [{"filter": "species == 'Gentoo'"}, {"derive": {"position": "index"}}]
    result = run(penguins, steps, chunk_rows=7)
    assert result["position"].tolist() == list(range(124))


def test_chunked_results_get_one_type_per_column(run, store):
    """`str.len()` gives int64 in a chunk without nulls and float64 in one with: the stored column is
    float, as pandas gives for the whole table."""
    frame = pd.DataFrame({"s": ["ab", "c", "def", "gh", None, "i", "jk"]})
    table = store(frame)
    chunked = run(table, [{"derive": {"n": "s.str.len()"}}], chunk_rows=2)
    expected = frame.eval("s.str.len()")
    assert expected.dtype == np.float64
    assert chunked["n"].dtype == np.float64
    assert chunked["n"].tolist()[:4] == [2.0, 1.0, 3.0, 2.0] and np.isnan(chunked["n"][4])
