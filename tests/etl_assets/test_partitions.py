"""Partitions: definitions and placeholders, a backfill over several partitions (in process and with
`dagster asset materialize --partition`), then a re-run of one partition with changed data: no
duplicates and the other partitions untouched, on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from etl_assets.config import load_pipeline
from etl_assets.definitions import build_definitions
from etl_assets.partitions import PartitionWindow, partitions_def, render_placeholders
from etl_assets.targets.sql import read_table

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
pipeline: daily_sales
connections:
  warehouse: {type: sql, url: "${WAREHOUSE_URL:-sqlite:///unused.db}"}
sources:
  - name: raw_sales
    type: file
    path: ../drop/sales_{partition_key}.csv
transforms:
  - name: typed
    input: raw_sales
    steps:
      - cast: {day: date, amount: integer}
targets:
  - name: sales_table
    input: typed
    type: sql
    connection: warehouse
    table: sales
    mode: append
partitions: {type: daily, start: "2024-01-01", column: day}
"""
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def write_day(drop: Path, day: str, amounts: list[int]) -> None:
    lines = ["day,shop,amount"] + [f"{day},s{i},{a}" for i, a in enumerate(amounts)]
    (drop / f"sales_{day}.csv").write_text("\n".join(lines) + "\n")


def table(url: str) -> list[tuple[str, str, int]]:
    frame = read_table(url, "sales")
    return sorted((str(d), s, int(a)) for d, s, a in frame[["day", "shop", "amount"]].itertuples(index=False))


@pytest.mark.parametrize("db", ["sqlite_url", "pg_url"])
def test_backfill_then_rerun_one_partition(db: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = request.getfixturevalue(db)
    configs, drop, home = tmp_path / "configs", tmp_path / "drop", tmp_path / "home"
    for folder in (configs, drop, home):
        folder.mkdir()
    (configs / "daily_sales.yaml").write_text(CONFIG)
    env = {"WAREHOUSE_URL": url, "ETL_CONFIGS_DIR": str(configs), "ETL_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(home)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for n, day in enumerate(DAYS):
        write_day(drop, day, [10 * (n + 1), 10 * (n + 1) + 1])

    defs = build_definitions([load_pipeline(configs / "daily_sales.yaml")], [])
    job = defs.resolve_job_def("daily_sales")
    assert job.partitions_def == dg.DailyPartitionsDefinition(start_date="2024-01-01", fmt="%Y-%m-%d")
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        for day in DAYS[:2]:
            assert job.execute_in_process(instance=instance, partition_key=day).success
    cli = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "etl_assets", "--select", 'key:"daily_sales/*"', "--partition", DAYS[2]]
    done = subprocess.run(cli, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    before = table(url)
    assert before == [
        ("2024-01-01", "s0", 10), ("2024-01-01", "s1", 11),
        ("2024-01-02", "s0", 20), ("2024-01-02", "s1", 21),
        ("2024-01-03", "s0", 30), ("2024-01-03", "s1", 31),
    ]

    write_day(drop, "2024-01-02", [200, 201, 202])  # corrected data for one day
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        assert job.execute_in_process(instance=instance, partition_key="2024-01-02").success
        assert job.execute_in_process(instance=instance, partition_key="2024-01-02").success  # twice: still no duplicates
        materialized = instance.get_materialized_partitions(dg.AssetKey(["daily_sales", "sales_table"]))
    assert materialized == set(DAYS)
    after = table(url)
    assert [r for r in after if r[0] != "2024-01-02"] == [r for r in before if r[0] != "2024-01-02"]
    assert [r for r in after if r[0] == "2024-01-02"] == [("2024-01-02", "s0", 200), ("2024-01-02", "s1", 201), ("2024-01-02", "s2", 202)]


def test_rows_outside_the_partition_fail_the_load(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configs, drop = tmp_path / "configs", tmp_path / "drop"
    configs.mkdir(), drop.mkdir()
    (configs / "daily_sales.yaml").write_text(CONFIG)
    monkeypatch.setenv("WAREHOUSE_URL", sqlite_url)
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path / "data"))
    (drop / "sales_2024-01-01.csv").write_text("day,shop,amount\n2024-01-02,s0,1\n")
    job = build_definitions([load_pipeline(configs / "daily_sales.yaml")], []).resolve_job_def("daily_sales")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = job.execute_in_process(instance=instance, partition_key="2024-01-01", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "outside the partition window" in str(failure.event_specific_data.user_failure_data.description)


@pytest.mark.parametrize(
    ("kind", "start", "key", "window"),
    [
        ("hourly", "2024-01-01", "2024-01-01-05:00", ("2024-01-01T05:00:00+00:00", "2024-01-01T06:00:00+00:00")),
        ("daily", "2024-01-01", "2024-03-31", ("2024-03-31T00:00:00+00:00", "2024-04-01T00:00:00+00:00")),
        ("weekly", "2024-01-07", "2024-01-14", ("2024-01-14T00:00:00+00:00", "2024-01-21T00:00:00+00:00")),
        ("monthly", "2024-01-01", "2024-02-01", ("2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00")),
    ],
)
def test_partition_kinds_and_keys(kind: str, start: str, key: str, window: tuple[str, str], tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(CONFIG.replace('{type: daily, start: "2024-01-01"', f'{{type: {kind}, start: "{start}"'))
    parts = partitions_def(load_pipeline(path).config)
    assert parts is not None and key in parts.get_partition_keys(current_time=datetime(2024, 6, 1, tzinfo=timezone.utc))
    tw = parts.time_window_for_partition_key(key)
    assert (tw.start.isoformat(), tw.end.isoformat()) == window


def test_placeholders_render_in_strings_lists_and_mappings() -> None:
    berlin = datetime(2024, 3, 31, tzinfo=timezone.utc)
    w = PartitionWindow("2024-03-31", "day", berlin, datetime(2024, 4, 1, tzinfo=timezone.utc))
    assert render_placeholders("x_{partition_key}.csv", w) == "x_2024-03-31.csv"
    assert render_placeholders({"from": "{partition_start}", "to": ["{partition_end}", "{other}"]}, w) == {
        "from": "2024-03-31T00:00:00+00:00",
        "to": ["2024-04-01T00:00:00+00:00", "{other}"],
    }
    assert render_placeholders("x_{partition_key}", None) == "x_{partition_key}"


def test_a_partitioned_pipeline_cannot_watch(tmp_path: Path) -> None:
    from etl_assets.config import ConfigValidationError

    path = tmp_path / "p.yaml"
    path.write_text(CONFIG.replace("    path: ../drop/sales_{partition_key}.csv\n", "    path: ../drop/sales_{partition_key}.csv\n    watch: {}\n"))
    with pytest.raises(ConfigValidationError, match="watch on a partitioned pipeline is not supported"):
        load_pipeline(path)
    assert pd is not None
