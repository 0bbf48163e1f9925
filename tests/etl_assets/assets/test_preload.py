"""Targets loaded while their input is produced (etl_assets/assets/preload.py), through real
Dagster runs into a real PostgreSQL: the rows equal the file, the commit happens in the target
step, and every way a run can go wrong leaves the target as it was."""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from sqlalchemy.engine import make_url

from etl_assets.assets import preload
from etl_assets.sources import _csv
from etl_assets.streamed_load import StreamedLoad, streamed_targets
from etl_assets.targets.sql import read_table
from tests.support.pipelines import Project, Run, file_to_sql, project  # noqa: F401 - fixture
from tests.support.pg_tables import canonical, rows, table_exists

STREAMED = "committed the load streamed during the"


def pipeline(csv: Path, url: str, mode: str = "append", source_checks: str = "", steps: str = "", extra: str = "") -> str:
    transform = f"""
transforms:
  - name: shaped
    input: raw
    steps:
{steps}
""" if steps else ""
    return file_to_sql("pre", csv, url, table="flights", mode=mode, target_input="shaped" if steps else "raw", top=extra, source_extra=source_checks, middle=transform)


def streamed(run: Run) -> bool:
    return any(STREAMED in (m or "") for m in run.logs)


@pytest.fixture
def weather(flights_data_dir: Path) -> Path:
    return flights_data_dir / "weather.csv"


@pytest.fixture(autouse=True)
def nothing_left_pending() -> None:
    yield
    assert not preload._PENDING, "a streamed load was left open"
    assert not [t for t in threading.enumerate() if t.name.startswith("etl-load-")], "a load thread is still running"


def test_streamed_append_equals_the_file_and_commits_in_the_target_step(project: Project, pg_url: str, weather: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_csv, "SEGMENT_BYTES", 1 << 16)  # many pieces, parsed in parallel
    seen_before_commit: list[bool] = []
    take = preload.take

    def spy(run_id: str, key: object) -> StreamedLoad | None:
        seen_before_commit.append(table_exists(pg_url))  # the source step has finished: nothing committed yet
        return take(run_id, key)  # type: ignore[arg-type]

    monkeypatch.setattr(preload, "take", spy)
    project.write("pre", pipeline(weather, pg_url))
    run = project.run("pre")
    assert run.success, run.failures()
    assert streamed(run)
    assert seen_before_commit == [False]
    expected = pd.read_csv(weather, float_precision="round_trip")  # pandas' default parser can be 1 ulp off
    got = rows(pg_url)
    assert len(got) == len(expected) == run.metadata("pre", "load")["rows_inserted"]
    pd.testing.assert_frame_equal(canonical(got), canonical(expected))


def test_streamed_equals_the_normal_load(project: Project, pg_url: str, weather: Path) -> None:
    csv = project.root / "weather.csv"
    shutil.copy(weather, csv)
    project.write("pre", pipeline(csv, pg_url, extra="executor: {type: multiprocess}\n"))
    normal = project.run("pre")
    assert normal.success and not streamed(normal)
    first = rows(pg_url)
    os.utime(csv)  # a changed file: read again (an unchanged one would reuse the stored table)
    project.write("pre", pipeline(csv, pg_url, mode="replace"))
    run = project.run("pre")
    assert run.success and streamed(run)
    assert run.metadata("pre", "load")["rows_deleted"] == len(first)
    pd.testing.assert_frame_equal(rows(pg_url), first)


def test_dedupe_streamed_from_a_transform_inserts_each_row_once(project: Project, pg_url: str, weather: Path) -> None:
    doubled = project.root / "doubled.csv"
    text = weather.read_text()
    header, body = text.split("\n", 1)
    doubled.write_text(header + "\n" + body + body)
    project.write("pre", pipeline(doubled, pg_url, mode="dedupe", steps="      - cast: {origin: string}"))
    run = project.run("pre")
    assert run.success and streamed(run)
    distinct = len(pd.read_csv(weather).drop_duplicates())
    assert len(read_table(pg_url, "flights")) == distinct
    again = project.run("pre")
    assert again.success and streamed(again)
    assert again.metadata("pre", "load")["rows_inserted"] == 0
    assert len(read_table(pg_url, "flights")) == distinct


def test_a_failing_source_check_rolls_the_streamed_load_back(project: Project, pg_url: str, weather: Path) -> None:
    checks = "    checks:\n      row_count: {max: 10}\n"
    project.write("pre", pipeline(weather, pg_url, source_checks=checks))
    run = project.run("pre")
    assert not run.success
    assert "load" not in run.materialized()
    assert not table_exists(pg_url)


def test_a_bad_row_late_in_the_file_leaves_no_table(project: Project, pg_url: str, weather: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_csv, "SEGMENT_BYTES", 1 << 14)
    bad = project.root / "bad.csv"
    lines = weather.read_text().splitlines()
    bad.write_text("\n".join(lines[:20000] + ["1,2,3"] + lines[20000:]) + "\n")
    project.write("pre", pipeline(bad, pg_url))
    run = project.run("pre")
    assert not run.success
    assert "bad.csv:20001: expected 15 fields, found 3" in "\n".join(run.failures())
    assert not table_exists(pg_url)


def test_a_later_wider_type_reads_again_and_loads_once(project: Project, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_csv, "SEGMENT_BYTES", 256)
    csv = project.root / "late.csv"
    csv.write_text("n,s\n" + "".join(f"{i},v{i}\n" for i in range(2000)) + "2.5,last\n")
    project.write("pre", pipeline(csv, pg_url))
    run = project.run("pre")
    assert run.success and streamed(run)
    assert any("needs wider column types" in (m or "") for m in run.logs)
    got = read_table(pg_url, "flights")
    assert len(got) == 2001 and got["n"].dtype == "float64"


def test_a_streamed_load_that_fails_falls_back_to_the_normal_load_and_its_error(project: Project, pg_url: str, weather: Path) -> None:
    u = make_url(pg_url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database, autocommit=True) as conn:
        conn.execute("CREATE TABLE flights (origin BIGINT)")
    project.write("pre", pipeline(weather, pg_url))
    run = project.run("pre")
    assert not run.success
    text = "\n".join(run.logs)
    assert "the load streamed during the source step failed" in text
    assert "column 'origin' has type bigint in the table but string in the data" in "\n".join(run.failures())


def test_no_stream_when_the_target_is_not_in_the_run(project: Project, pg_url: str, weather: Path) -> None:
    project.write("pre", pipeline(weather, pg_url))
    run = project.run("pre", select=["raw"])
    assert run.success and run.materialized() == {"raw"}
    assert not table_exists(pg_url)
    later = project.run("pre", select=["load"])
    assert later.success and not streamed(later)
    assert len(read_table(pg_url, "flights")) == len(pd.read_csv(weather))


def test_streamed_targets_rules(project: Project, pg_url: str, weather: Path) -> None:
    from etl_assets.config import load_all

    def targets(text: str) -> list[str]:
        project.write("pre", text)
        (loaded,), _ = load_all(project.configs)
        return [t.name for t in streamed_targets(loaded, "raw")]

    assert targets(pipeline(weather, pg_url)) == ["load"]
    assert targets(pipeline(weather, pg_url, mode="merge").replace("mode: merge", "mode: merge\n    primary_key: [origin]")) == []
    assert targets(pipeline(weather, pg_url, extra="executor: {type: multiprocess}\n")) == []
    assert targets(pipeline(weather, pg_url, steps="      - cast: {origin: string}")) == []  # raw feeds the transform, not a target
