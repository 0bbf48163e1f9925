"""The engine: streaming vs whole-table steps, mixed pipelines, empty input, error messages."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from pydantic import TypeAdapter

from etl_assets.config.models.steps import Step
from etl_assets.steps import StepError, run_steps, whole_table_steps
from etl_assets.steps.engine import plan
from etl_assets.tables import TableWriter


def parse_steps(steps: list[dict]) -> list:
    return TypeAdapter(list[Step]).validate_python(steps)


def test_whole_table_steps():
    assert whole_table_steps() == frozenset(
        {"dedupe", "sort", "aggregate", "join", "union", "pivot", "unpivot", "scale", "one_hot", "python"}
    )


def test_expressions_that_look_at_other_rows_run_on_the_whole_table(run, roundtrip, penguins):
    steps = [{"derive": {"centered": "body_mass_g - body_mass_g.mean()", "prev": "body_mass_g.shift()"}}]
    assert [p.streamable for p in plan(parse_steps(steps))] == [False]
    result = run(penguins, steps, chunk_rows=7)
    frame = penguins.to_pandas()
    expected = frame.assign(centered=frame["body_mass_g"] - frame["body_mass_g"].mean(), prev=frame["body_mass_g"].shift())
    assert_frame_equal(result, roundtrip(expected))
    above = run(penguins, [{"filter": "body_mass_g > body_mass_g.median()"}], chunk_rows=7)
    assert len(above) == len(frame.query("body_mass_g > body_mass_g.median()")) == 166


def test_row_wise_expressions_stream():
    steps = parse_steps(
        [
            {"filter": "`dep delay` > 0 and carrier.str.startswith('A') and sqrt(x) < 3 and not y.isna()"},
            {"derive": {"h": "time.dt.hour", "c": "name.str[:3]", "a": "abs(x).round(1)"}},
            {"derive": {"total": "x.sum()"}},
            {"sort": {"by": ["x"]}},
        ]
    )
    assert [p.streamable for p in plan(steps)] == [True, True, False, False]


def test_mixed_pipeline_equals_pandas(run, roundtrip, flights, airlines):
    steps = [
        {"filter": "dep_delay > 0 and carrier != 'HA'"},
        {"derive": {"speed_mph": "distance / air_time * 60"}},
        {"rename": {"dep_delay": "departure_delay"}},
        {"cast": {"flight": "string", "year": "integer"}},
        {"dedupe": {"subset": ["carrier", "flight"]}},
        {"filter": "speed_mph > 300"},
        {"join": {"with": "airlines", "on": ["carrier"], "how": "left"}},
        {"aggregate": {"by": ["name"], "metrics": {"flights": "count(*)", "delay": "mean(departure_delay)"}}},
        {"sort": {"by": ["flights"], "descending": True}},
        {"derive": {"share": "flights / 10"}},
    ]
    result = run(flights, steps, {"airlines": airlines}, chunk_rows=7)
    f = flights.to_pandas().query("dep_delay > 0 and carrier != 'HA'")
    f = f.assign(speed_mph=f.eval("distance / air_time * 60")).rename(columns={"dep_delay": "departure_delay"})
    f["flight"] = f["flight"].map(str).astype(object)
    f = f.drop_duplicates(subset=["carrier", "flight"]).query("speed_mph > 300")
    f = pd.merge(f, airlines.to_pandas(), how="left", on=["carrier"])
    f = f.groupby(["name"], sort=True, dropna=False).agg(flights=("name", "size"), delay=("departure_delay", "mean"))
    f = f.reset_index().sort_values(["flights"], ascending=False, kind="mergesort").reset_index(drop=True)
    f["share"] = f.eval("flights / 10")
    assert len(result) > 3 and result["flights"].is_monotonic_decreasing
    assert_frame_equal(result, roundtrip(f))
    assert_frame_equal(run(flights, steps, {"airlines": airlines}), result)


def test_no_steps_copies_the_input(run, roundtrip, weather):
    assert_frame_equal(run(weather, [], chunk_rows=500), roundtrip(weather.to_pandas()))


@pytest.mark.parametrize(
    "steps",
    [
        [{"filter": "year > 0"}, {"derive": {"z": "bill_length_mm * 2"}}, {"cast": {"year": "string"}}],
        [{"sort": {"by": ["year"]}}, {"dedupe": {}}, {"scale": {"columns": ["body_mass_g"]}}],
        [{"one_hot": {"columns": ["sex"]}}, {"unpivot": {"id_columns": ["species"], "value_columns": ["year"]}}],
    ],
)
def test_empty_input_keeps_the_columns(run, store, penguins, steps):
    empty = store(penguins.to_pandas().iloc[:0])
    result = run(empty, steps, chunk_rows=7)
    expected_columns = list(run(penguins, steps).columns)
    assert len(result) == 0
    if steps[0].get("one_hot") is None:
        assert list(result.columns) == expected_columns
    else:
        assert list(result.columns) == ["species", "variable", "value"]


def test_result_is_written_in_chunks_and_not_committed(tmp_path, penguins):
    writer = TableWriter(tmp_path / "out.parquet")
    run_steps("t", penguins, parse_steps([{"sort": {"by": ["year"]}}]), {}, writer, chunk_rows=100)
    assert writer.rows == 344
    assert not (tmp_path / "out.parquet").exists()  # committing is the caller's job
    table = writer.commit()
    assert [b.num_rows for b in table.batches(1000)] != [] and table.num_rows == 344


UNKNOWN_COLUMN_STEPS = {
    "select": {"select": ["species", "nope"]},
    "drop": {"drop": ["nope"]},
    "rename": {"rename": {"nope": "x"}},
    "cast": {"cast": {"nope": "integer"}},
    "filter": {"filter": "nope > 1"},
    "derive": {"derive": {"x": "nope + 1"}},
    "fill_null": {"fill_null": {"nope": 0}},
    "drop_null": {"drop_null": ["nope"]},
    "dedupe": {"dedupe": {"subset": ["nope"]}},
    "trim": {"trim": ["nope"]},
    "replace": {"replace": {"nope": {"a": "b"}}},
    "sort": {"sort": {"by": ["nope"]}},
    "aggregate": {"aggregate": {"by": ["nope"], "metrics": {"n": "count(*)"}}},
    "join": {"join": {"with": "other", "on": ["nope"]}},
    "pivot": {"pivot": {"index": ["species"], "columns": "nope", "values": "year"}},
    "unpivot": {"unpivot": {"id_columns": ["nope"]}},
    "scale": {"scale": {"columns": ["nope"]}},
    "one_hot": {"one_hot": {"columns": ["nope"]}},
}


@pytest.mark.parametrize("name", list(UNKNOWN_COLUMN_STEPS))
def test_unknown_column_names_transform_step_column_and_columns(run, penguins, name):
    steps = [{"filter": "year > 0"}, UNKNOWN_COLUMN_STEPS[name]]
    with pytest.raises(StepError) as info:
        run(penguins, steps, {"other": penguins}, transform="clean_penguins", chunk_rows=50)
    message = str(info.value)
    assert message.startswith(f"transform clean_penguins, step 2 ({name}): unknown column 'nope'")
    assert message.endswith(
        "columns are: species, island, bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, sex, year"
    )
    assert (info.value.transform, info.value.step, info.value.step_name) == ("clean_penguins", 2, name)


def test_unknown_column_after_rename_lists_the_current_columns(run, flights):
    with pytest.raises(StepError) as info:
        run(flights, [{"rename": {"dep_delay": "departure_delay"}}, {"select": ["dep_delay"]}])
    assert "step 2 (select): unknown column 'dep_delay'; columns are: year, month, day, dep_time, sched_dep_time, departure_delay" in str(info.value)


def test_pandas_errors_are_reported_with_the_step(run, penguins):
    with pytest.raises(StepError) as info:
        run(penguins, [{"derive": {"x": "species * island"}}])
    message = str(info.value)
    assert message.startswith("transform t, step 1 (derive): TypeError:")
    assert isinstance(info.value.__cause__, TypeError)


def test_a_result_that_cannot_be_stored_is_a_step_error(run, penguins):
    with pytest.raises(StepError, match=r"transform t: the result of step 1 \(replace\) cannot be stored"):
        run(penguins, [{"replace": {"species": {"Adelie": 1}}}], chunk_rows=1000)


def test_values_stay_correct_across_chunk_boundaries(run, roundtrip, weather):
    steps = [
        {"cast": {"time_hour": "datetime", "wind_dir": "integer"}},
        {"filter": "wind_dir > 180"},
        {"derive": {"gusty": "wind_gust > wind_speed * 1.3", "hour_utc": "time_hour.dt.hour"}},
        {"fill_null": {"wind_gust": 0.0}},
        {"select": ["origin", "time_hour", "hour_utc", "wind_dir", "wind_gust", "gusty"]},
    ]
    result = run(weather, steps, chunk_rows=7)
    w = weather.to_pandas()
    w = w.assign(time_hour=pd.to_datetime(w["time_hour"], utc=True), wind_dir=w["wind_dir"].astype("Int64"))
    w = w.query("wind_dir > 180")
    w = w.assign(gusty=w["wind_gust"] > w["wind_speed"] * 1.3, hour_utc=w["time_hour"].dt.hour)
    w = w.fillna({"wind_gust": 0.0})[["origin", "time_hour", "hour_utc", "wind_dir", "wind_gust", "gusty"]]
    assert len(result) > 500 and not np.isnan(result["wind_gust"]).any()
    assert_frame_equal(result, roundtrip(w))
