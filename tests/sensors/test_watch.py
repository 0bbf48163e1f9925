"""Watch sensor ticks against a real Dagster instance: run requests and the cursor after every tick."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import dagster as dg
import pytest

from etl_assets.config import LoadedPipeline
from sensors.cursor import WatchCursor
from sensors.factory import build_sensors
from sensors.listing import split_glob
from sensors.runs import FILES_TAG, SOURCE_TAG, triggered_files
from sensors.watch import watch_selection

SENSOR = "drops_incoming_sensor"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def drop(folder: Path, name: str, data: bytes, mtime: float | None = None) -> Path:
    path = folder / name
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


class Ticker:
    """Evaluates the sensor like the daemon does: each tick gets the cursor the previous one returned."""

    def __init__(self, loaded: LoadedPipeline, home: Path) -> None:
        job = dg.define_asset_job(loaded.config.pipeline, selection=dg.AssetSelection.groups(loaded.config.pipeline))
        self.sensor = next(s for s in build_sensors(loaded, job) if s.name == SENSOR)
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.cursor: str | None = None

    def tick(self) -> tuple[list[dg.RunRequest], dict[str, Any]]:
        with dg.instance_for_test(temp_dir=str(self.home)) as instance:  # a fresh instance object each tick
            data = self.sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=self.cursor, sensor_name=SENSOR))
        self.cursor = data.cursor
        return list(data.run_requests or []), json.loads(data.cursor or "null")


@pytest.fixture
def ticker(write_config: Callable[..., LoadedPipeline], tmp_path: Path) -> Ticker:
    return Ticker(write_config(), tmp_path / "dagster_home")


def files_of(cursor: dict[str, Any]) -> dict[str, list[Any]]:
    assert cursor["v"] == 1
    return cursor["files"]


def test_sensor_is_named_and_stopped_or_running_as_configured(write_config: Callable[..., LoadedPipeline]) -> None:
    job = dg.define_asset_job("drops", selection=dg.AssetSelection.groups("drops"))
    running = next(s for s in build_sensors(write_config(), job) if s.name == SENSOR)
    assert running.default_status == dg.DefaultSensorStatus.RUNNING
    assert running.minimum_interval_seconds == 1
    stopped = next(s for s in build_sensors(write_config(status="stopped"), job) if s.name == SENSOR)
    assert stopped.default_status == dg.DefaultSensorStatus.STOPPED


def test_new_same_touched_changed_and_two_new_files(ticker: Ticker, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    runs, cursor = ticker.tick()
    assert runs == [] and files_of(cursor) == {}

    drop(folder, "a.csv", b"id,amount\n1,10\n", mtime=1_000)
    runs, cursor = ticker.tick()
    a1 = digest(b"id,amount\n1,10\n")
    assert [r.run_key for r in runs] == [f"a.csv@{a1}"]
    assert runs[0].tags[SOURCE_TAG] == "incoming" and json.loads(runs[0].tags[FILES_TAG]) == ["a.csv"]
    assert [k.to_user_string() for k in runs[0].asset_selection] == ["drops/incoming", "drops/cleaned", "drops/amounts"]
    assert files_of(cursor) == {"a.csv": [15, 1000.0, a1]}

    runs, cursor = ticker.tick()  # same file again
    assert runs == [] and files_of(cursor) == {"a.csv": [15, 1000.0, a1]}

    os.utime(folder / "a.csv", (2_000, 2_000))  # touched, same content: no run, stat remembered
    runs, cursor = ticker.tick()
    assert runs == [] and files_of(cursor) == {"a.csv": [15, 2000.0, a1]}

    drop(folder, "a.csv", b"id,amount\n1,11\n", mtime=3_000)  # content changed (same size)
    runs, cursor = ticker.tick()
    a2 = digest(b"id,amount\n1,11\n")
    assert [r.run_key for r in runs] == [f"a.csv@{a2}"]
    assert files_of(cursor) == {"a.csv": [15, 3000.0, a2]}

    drop(folder, "c.csv", b"id,amount\n3,30\n", mtime=5_000)
    drop(folder, "b.csv", b"id,amount\n2,20\n", mtime=4_000)
    runs, cursor = ticker.tick()
    b, c = digest(b"id,amount\n2,20\n"), digest(b"id,amount\n3,30\n")
    assert [r.run_key for r in runs] == [f"b.csv@{b}", f"c.csv@{c}"]  # oldest first
    assert files_of(cursor) == {"a.csv": [15, 3000.0, a2], "b.csv": [15, 4000.0, b], "c.csv": [15, 5000.0, c]}

    runs, cursor = ticker.tick()
    assert runs == [] and len(files_of(cursor)) == 3


def test_cursor_survives_a_restart_and_deleted_files_are_pruned(
    write_config: Callable[..., LoadedPipeline], ticker: Ticker, tmp_path: Path
) -> None:
    folder = tmp_path / "drop"
    b_data = b"id,amount\n2,20\n"
    drop(folder, "a.csv", b"id,amount\n1,10\n", mtime=1_000)
    drop(folder, "b.csv", b_data, mtime=1_001)
    runs, _ = ticker.tick()
    assert len(runs) == 2
    restarted = Ticker(write_config(), ticker.home)  # a new daemon: config reloaded, new sensor and instance
    restarted.cursor = ticker.cursor  # the cursor the daemon persisted
    runs, cursor = restarted.tick()
    assert runs == [] and sorted(files_of(cursor)) == ["a.csv", "b.csv"]

    (folder / "b.csv").unlink()
    runs, cursor = restarted.tick()
    assert runs == [] and sorted(files_of(cursor)) == ["a.csv"]

    # back with the content already processed: the cursor sees it as new, but the run key is the one
    # Dagster already used for this sensor, so the daemon does not start a second run
    drop(folder, "b.csv", b_data, mtime=1_002)
    runs, cursor = restarted.tick()
    assert [r.run_key for r in runs] == [f"b.csv@{digest(b_data)}"]
    assert sorted(files_of(cursor)) == ["a.csv", "b.csv"]


def test_listing_is_bounded_per_tick(write_config: Callable[..., LoadedPipeline], tmp_path: Path) -> None:
    ticker = Ticker(write_config(limit=2), tmp_path / "home")
    for i in range(5):
        drop(tmp_path / "drop", f"f{i}.csv", f"id\n{i}\n".encode(), mtime=1_000 + i)
    keys = []
    for expected, known in ((2, 2), (2, 4), (1, 5), (0, 5)):
        runs, cursor = ticker.tick()
        assert len(runs) == expected and len(files_of(cursor)) == known
        keys += [r.run_key.split("@")[0] for r in runs]
    assert keys == ["f0.csv", "f1.csv", "f2.csv", "f3.csv", "f4.csv"]


def test_a_file_still_being_written_waits(write_config: Callable[..., LoadedPipeline], tmp_path: Path) -> None:
    ticker = Ticker(write_config(settle=3600), tmp_path / "home")
    drop(tmp_path / "drop", "fresh.csv", b"id\n1\n")
    runs, cursor = ticker.tick()
    assert runs == [] and files_of(cursor) == {}
    os.utime(tmp_path / "drop" / "fresh.csv", (1_000, 1_000))
    runs, cursor = ticker.tick()
    assert len(runs) == 1 and list(files_of(cursor)) == ["fresh.csv"]


def test_a_listing_error_fails_the_tick_and_keeps_the_cursor(ticker: Ticker, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    drop(folder, "a.csv", b"id\n1\n", mtime=1_000)
    ticker.tick()
    before = ticker.cursor
    (folder / "a.csv").unlink()
    folder.rmdir()
    folder.write_text("not a directory")
    with pytest.raises(Exception, match="is not a directory"):
        ticker.tick()
    assert ticker.cursor == before
    folder.unlink()
    folder.mkdir()
    drop(folder, "a.csv", b"id\n1\n", mtime=1_000)
    runs, cursor = ticker.tick()
    assert runs == [] and list(files_of(cursor)) == ["a.csv"]


def test_a_missing_folder_is_no_files(ticker: Ticker, tmp_path: Path) -> None:
    (tmp_path / "drop").rmdir()
    runs, cursor = ticker.tick()
    assert runs == [] and files_of(cursor) == {}


def test_cursor_parsing_is_forgiving() -> None:
    assert WatchCursor.parse(None).files == {}
    assert WatchCursor.parse("garbage").files == {}
    assert WatchCursor.parse('{"v": 99, "files": {}}').files == {}
    text = WatchCursor.parse('{"v":1,"files":{"x":[1,2.5,"ab"]}}').dumps()
    assert text == '{"v":1,"files":{"x":[1,2.5,"ab"]}}'


def test_split_glob() -> None:
    assert split_glob("/data/in/2024-*/x_*.csv") == ("/data/in", "2024-*/x_*.csv")
    assert split_glob("/data/in/one.csv") == ("/data/in", "one.csv")
    assert split_glob("/data/**/*.csv") == ("/data", "**/*.csv")
    assert split_glob("*.csv") == (".", "*.csv")


def test_triggered_files_only_for_its_own_source() -> None:
    tags = {SOURCE_TAG: "incoming", FILES_TAG: '["a.csv", "sub/b.csv"]'}
    assert triggered_files(tags, "incoming") == ["a.csv", "sub/b.csv"]
    assert triggered_files(tags, "other") is None
    assert triggered_files({}, "incoming") is None
    with pytest.raises(ValueError):
        triggered_files({SOURCE_TAG: "incoming", FILES_TAG: '["../etc/passwd"]'}, "incoming")


MULTI = """\
pipeline: multi
sources:
  - {name: orders, type: file, path: ../drop/o_*.csv, watch: {}}
  - {name: refunds, type: file, path: ../drop/r_*.csv, watch: {}}
  - {name: lookup, type: file, path: ../drop/lookup.csv}
transforms:
  - name: enriched
    input: orders
    steps: [{join: {with: lookup, on: [id]}}]
  - {name: refunds_clean, input: refunds}
  - name: combined
    input: enriched
    steps: [{union: [refunds_clean]}]
targets:
  - {name: orders_out, input: enriched, type: file, path: ../out/o.csv}
  - {name: refunds_out, input: refunds_clean, type: file, path: ../out/r.csv}
  - {name: combined_out, input: combined, type: file, path: ../out/c.csv}
"""


def test_a_sensor_run_selects_its_source_downstream_and_what_that_reads(write_config: Callable[..., LoadedPipeline]) -> None:
    cfg = write_config(MULTI.replace("{", "{{").replace("}", "}}"), name="multi").config
    names = [k.path[-1] for k in watch_selection(cfg, "orders")]
    # refunds (the other watched source) is not re-read; its cleaned table is recomputed from its last load
    assert names == ["orders", "lookup", "enriched", "refunds_clean", "combined", "orders_out", "combined_out"]
