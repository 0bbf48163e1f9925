"""Whole pipelines through `etl run`, `dagster job execute` and `dagster asset materialize`,
compared with what pandas computes for the same steps, on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from sqlalchemy import create_engine

from etl_assets.cli import main as etl_main

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

PIPELINE = """\
pipeline: weather
connections:
  wh:
    type: sql
    url: ${{WH_URL}}
sources:
  - name: raw_weather
    type: file
    path: {weather}
  - name: airports
    type: file
    path: {airports}
transforms:
  - name: hourly
    input: raw_weather
    steps:
      - drop_null: [temp, humid]
      - derive: {{temp_c: "(temp - 32) * 5 / 9"}}
      - filter: "wind_speed < 40"
      - join: {{with: airports, on: {{origin: faa}}, how: left}}
      - rename: {{name: airport}}
      - select: [origin, airport, year, month, day, hour, temp_c, humid, wind_speed, time_hour]
  - name: monthly
    input: hourly
    steps:
      - aggregate:
          by: [origin, month]
          metrics: {{hours: "count(*)", mean_temp_c: "mean(temp_c)", max_wind: "max(wind_speed)"}}
targets:
  - name: hourly_table
    input: hourly
    type: sql
    connection: wh
    table: weather_hourly
    mode: dedupe
  - name: monthly_table
    input: monthly
    type: sql
    connection: wh
    table: weather monthly
    mode: merge
    primary_key: [origin, month]
"""


def expected(flights_data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same steps, written directly in pandas."""
    w = pd.read_csv(flights_data_dir / "weather.csv")
    a = pd.read_csv(flights_data_dir / "airports.csv")
    w = w.dropna(subset=["temp", "humid"])
    w["temp_c"] = w.eval("(temp - 32) * 5 / 9")
    w = w.query("wind_speed < 40")
    w = w.merge(a, how="left", left_on="origin", right_on="faa").rename(columns={"name": "airport"})
    hourly = w[["origin", "airport", "year", "month", "day", "hour", "temp_c", "humid", "wind_speed", "time_hour"]]
    monthly = (
        hourly.groupby(["origin", "month"], sort=True, dropna=False)
        .agg(hours=("temp_c", "size"), mean_temp_c=("temp_c", "mean"), max_wind=("wind_speed", "max"))
        .reset_index()
    )
    return hourly.reset_index(drop=True), monthly


@pytest.fixture
def project(tmp_path: Path, flights_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "weather.yaml").write_text(
        PIPELINE.format(weather=flights_data_dir / "weather.csv", airports=flights_data_dir / "airports.csv")
    )
    monkeypatch.setenv("ETL_CONFIGS_DIR", str(configs))
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return tmp_path


def read(url: str, table: str) -> pd.DataFrame:
    frame = pd.read_sql_table(table, create_engine(url))
    return frame[[c for c in frame.columns if not c.startswith("_etl_")]]


def assert_matches(url: str, flights_data_dir: Path) -> None:
    hourly, monthly = expected(flights_data_dir)
    got_hourly = read(url, "weather_hourly")
    got_monthly = read(url, "weather monthly").sort_values(["origin", "month"]).reset_index(drop=True)
    assert len(got_hourly) == len(hourly)
    assert 0 < len(hourly) < 26_115  # the filters removed some rows
    key = ["origin", "year", "month", "day", "hour", "time_hour", "temp_c", "humid", "wind_speed"]
    got_hourly = got_hourly.sort_values(key).reset_index(drop=True)
    want_hourly = hourly.sort_values(key).reset_index(drop=True)
    for col in ["origin", "airport", "year", "month", "day", "hour"]:
        assert got_hourly[col].tolist() == want_hourly[col].tolist(), col
    for col in ["temp_c", "humid", "wind_speed"]:
        pd.testing.assert_series_equal(got_hourly[col].astype(float), want_hourly[col].astype(float), check_names=False)
    assert got_monthly[["origin", "month", "hours"]].astype(str).values.tolist() == monthly[["origin", "month", "hours"]].astype(str).values.tolist()
    pd.testing.assert_series_equal(got_monthly["mean_temp_c"], monthly["mean_temp_c"], check_names=False)
    pd.testing.assert_series_equal(got_monthly["max_wind"].astype(float), monthly["max_wind"], check_names=False)


@pytest.mark.parametrize("db", ["sqlite_url", "pg_url"])
def test_etl_run_equals_pandas_and_dedupe_rerun_inserts_nothing(
    project: Path, flights_data_dir: Path, db: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = request.getfixturevalue(db)
    monkeypatch.setenv("WH_URL", url)
    assert etl_main(["run", "weather"]) == 0
    assert_matches(url, flights_data_dir)
    out = capsys.readouterr().out
    assert "weather/hourly_table" in out and "success" in out
    assert etl_main(["run", "weather"]) == 0
    assert_matches(url, flights_data_dir)  # dedupe and merge: same tables after a second run
    second = capsys.readouterr().out
    line = next(l for l in second.splitlines() if l.startswith("weather/hourly_table"))
    assert line.split()[3] == "0"  # inserted
    assert "secret" not in second


def test_etl_run_select_runs_only_the_named_assets(project: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WH_URL", sqlite_url)
    assert etl_main(["run", "weather", "--select", "raw_weather", "airports"]) == 0
    out = capsys.readouterr().out
    assert "weather/raw_weather" in out and "weather/hourly_table" not in out


def test_etl_run_exits_non_zero_when_a_step_fails(project: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WH_URL", sqlite_url)
    cfg = project / "configs" / "weather.yaml"
    cfg.write_text(cfg.read_text().replace('filter: "wind_speed < 40"', 'filter: "wind_sped < 40"'))
    assert etl_main(["run", "weather"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "wind_sped" in out


def _env(project: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(extra)
    return env


def test_dagster_job_execute_with_the_projects_postgres_storage(
    project: Path, flights_data_dir: Path, pg_url: str, pg_server: str
) -> None:
    """`dagster job execute` with the project's dagster.yaml leaves its run in Postgres storage;
    the multiprocess executor (a process per step) reads what other processes stored."""
    cfg = project / "configs" / "weather.yaml"
    cfg.write_text(cfg.read_text() + "executor: {type: multiprocess, max_concurrent: 2}\n")
    home = project / "pg_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    storage_url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    dagster_url = storage_url
    env = _env(project, DAGSTER_HOME=str(home), DAGSTER_PG_URL=dagster_url, WH_URL=pg_url)
    proc = subprocess.run(
        [str(BIN / "dagster"), "job", "execute", "-m", "etl_assets", "-j", "weather"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert_matches(pg_url, flights_data_dir)
    with psycopg.connect(storage_url) as conn:
        runs = conn.execute("SELECT pipeline_name, status FROM runs").fetchall()
    assert runs == [("weather", "SUCCESS")]
    assert "Launching subprocess for" in proc.stdout + proc.stderr  # really one process per step


def test_dagster_asset_materialize_one_asset(project: Path, flights_data_dir: Path, sqlite_url: str) -> None:
    env = _env(project, WH_URL=sqlite_url)
    run = lambda select: subprocess.run(  # noqa: E731
        [str(BIN / "dagster"), "asset", "materialize", "-m", "etl_assets", "--select", select],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    proc = run("weather/raw_weather,weather/airports,weather/hourly,weather/hourly_table")
    assert proc.returncode == 0, proc.stderr[-3000:]
    hourly, _ = expected(flights_data_dir)
    assert len(read(sqlite_url, "weather_hourly")) == len(hourly)
    with pytest.raises(ValueError):
        read(sqlite_url, "weather monthly")  # not selected, not created
    proc = run("weather/monthly,weather/monthly_table")  # reads the stored upstream table
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_matches(sqlite_url, flights_data_dir)


def test_materializations_record_row_count_schema_preview_and_load_counts(
    project: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    monkeypatch.setenv("WH_URL", sqlite_url)
    assert etl_main(["run", "weather"]) == 0
    with dg.DagsterInstance.get() as instance:
        def meta(name: str) -> dict:
            event = instance.get_latest_materialization_event(dg.AssetKey(["weather", name]))
            assert event is not None and event.asset_materialization is not None
            return dict(event.asset_materialization.metadata)

        hourly = meta("hourly")
        assert hourly["dagster/row_count"].value == len(read(sqlite_url, "weather_hourly"))
        schema = hourly["dagster/column_schema"].value
        assert [c.name for c in schema.columns] == ["origin", "airport", "year", "month", "day", "hour", "temp_c", "humid", "wind_speed", "time_hour"]
        assert hourly["preview"].value.startswith("| origin ")
        target = meta("monthly_table")
        groups = len(read(sqlite_url, "weather monthly"))
        assert target["table"].value == '"weather monthly"'
        assert (target["rows_inserted"].value, target["rows_updated"].value, target["rows_unchanged"].value) == (groups, 0, 0)
    assert etl_main(["run", "weather"]) == 0
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["weather", "monthly_table"]))
        again = dict(event.asset_materialization.metadata)
        assert (again["rows_inserted"].value, again["rows_updated"].value) == (0, groups)


def test_etl_run_rejects_an_unknown_asset_name(project: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WH_URL", sqlite_url)
    with pytest.raises(SystemExit, match="'nope' is not an asset of pipeline weather"):
        etl_main(["run", "weather", "--select", "nope"])


def test_the_etl_command_runs_a_pipeline_in_its_own_process(project: Path, flights_data_dir: Path, sqlite_url: str) -> None:
    """The installed `etl` script (etl_assets.console): the run's exit codes, the loaded rows."""
    etl = lambda *args: subprocess.run([str(BIN / "etl"), *args], cwd=project, env=_env(project, WH_URL=sqlite_url), capture_output=True, text=True, timeout=600)  # noqa: E731
    proc = etl("run", "weather")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert_matches(sqlite_url, flights_data_dir)
    assert etl("run", "no_such_pipeline").returncode == 2
    assert etl("list").returncode == 0


def test_a_run_in_a_process_that_exits_after_it_turns_the_collector_back_on(project: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`etl run` keeps the garbage collector off while importing and building the definitions,
    then freezes them and turns it back on for the run itself."""
    import gc

    from etl_assets.run import run_pipeline

    monkeypatch.setenv("WH_URL", sqlite_url)
    gc.disable()
    try:
        assert run_pipeline("weather", [], None, exits_after=True) == 0
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.enable()
        gc.unfreeze()


PLAIN_LOAD = """
pipeline: plain
connections:
  db: {{type: sql, url: "{url}"}}
sources:
  - {{name: raw, type: file, path: "{path}"}}
targets:
  - {{name: load, input: raw, type: sql, connection: db, table: weather, mode: append}}
"""


CAST_AND_CHECKED = PLAIN_LOAD + """
transforms:
  - name: typed
    input: raw
    steps:
      - cast: {{time_hour: datetime, origin: string}}
    checks:
      columns:
        year: {{type: integer, ge: 2013, le: 2013}}
        origin: {{isin: [EWR, JFK, LGA], max_length: 3}}
""".replace("input: raw, type: sql", "input: typed, type: sql")


CHECKED_DEDUPE = CAST_AND_CHECKED.replace("mode: append", "mode: dedupe")


@pytest.mark.parametrize("db", ["pg_url", "sqlite_url"])
@pytest.mark.parametrize("config", [PLAIN_LOAD, CAST_AND_CHECKED, CHECKED_DEDUPE], ids=["plain", "cast_and_checked", "checked_dedupe"])
def test_a_file_to_table_run_does_not_import_pandas(tmp_path: Path, flights_data_dir: Path, db: str, config: str, request: pytest.FixtureRequest) -> None:
    """pandas and pandera (~0.25 s and ~40 MB, ~0.4 s with pandera) are imported only where values
    need them: not by CSV parsing, the bookkeeping columns of a load, the materialization's
    preview and profile, a cast Arrow does, column checks every chunk of which passes the Arrow
    screen, or a dedupe load's row hash (by the C extension)."""
    from etl_assets.targets.sql import common

    if config is CHECKED_DEDUPE and common._rowhash is None and os.environ.get("ETL_REQUIRE_SERVERS") != "1":
        pytest.skip("the C row hash is not built: pandas hashes")
    url = request.getfixturevalue(db)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "plain.yaml").write_text(config.format(url=url, path=flights_data_dir / "weather.csv"))
    (tmp_path / "dagster_home").mkdir()
    env = _env(tmp_path, ETL_CONFIGS_DIR=str(tmp_path / "configs"), ETL_DATA_DIR=str(tmp_path / "data"), DAGSTER_HOME=str(tmp_path / "dagster_home"))
    code = "import sys; from etl_assets.run import run_pipeline; code = run_pipeline('plain', [], None); print(code, 'pandas' in sys.modules, 'pandera' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "0 False False"
    assert len(read(url, "weather")) == len(pd.read_csv(flights_data_dir / "weather.csv"))
