"""End to end: files dropped into a watched folder are loaded into the SQL target exactly once —
by the sensor evaluated in a loop, and by the real `dagster-daemon` across restarts and a lost cursor."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import dagster as dg
import pytest

from etl_assets.config import LoadedPipeline
from etl_assets.definitions import build_definitions
from tests.support.sensor_loop import SensorLoop

ROOT = Path(__file__).resolve().parents[2]
SENSOR = "drops_incoming_sensor"


def rows(db: Path) -> list[tuple[int, int]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        try:
            return sorted(con.execute('select "id", "amount" from "amounts"').fetchall())
        except sqlite3.OperationalError:
            return []


def test_sensor_loop_loads_each_dropped_file_once(write_config: Callable[..., LoadedPipeline], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path / "data"))
    loaded = write_config()
    defs = build_definitions([loaded], [])
    drop, db = tmp_path / "drop", tmp_path / "warehouse.db"
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        sensor_loop = SensorLoop(defs, SENSOR, "drops", instance)
        loop = sensor_loop.tick

        (drop / "a.csv").write_text("id,amount\n1,10\n2,-5\n")
        assert loop() == 1 and rows(db) == [(1, 10)]
        assert loop() == 0 and rows(db) == [(1, 10)]
        (drop / "b.csv").write_text("id,amount\n3,30\n")
        (drop / "c.csv").write_text("id,amount\n4,40\n")
        assert loop() == 2 and rows(db) == [(1, 10), (3, 30), (4, 40)]  # each run read only its own file
        (drop / "b.csv").write_text("id,amount\n3,31\n")
        assert loop() == 1 and rows(db) == [(1, 10), (3, 30), (3, 31), (4, 40)]  # changed content: loaded again
        sensor_loop.cursor = None  # the cursor is lost: every file looks new, the run keys stop the duplicates
        assert loop() == 0 and rows(db) == [(1, 10), (3, 30), (3, 31), (4, 40)]
        runs = instance.get_runs()
        assert len(runs) == 4 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)


class Daemon:
    """`dagster-daemon run` on the test's configs, storage in a temp DAGSTER_HOME."""

    def __init__(self, tmp_path: Path) -> None:
        self.home = tmp_path / "home"
        self.home.mkdir(exist_ok=True)
        (self.home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        with dg.DagsterInstance.from_config(str(self.home)):
            pass  # create the storage before two processes race to migrate it
        self.workspace = tmp_path / "workspace.yaml"
        self.workspace.write_text(
            f"load_from:\n  - python_module:\n      module_name: etl_assets\n      attribute: defs\n      working_directory: {ROOT}\n"
        )
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "ETL_CONFIGS_DIR": str(tmp_path / "configs"),
            "ETL_DATA_DIR": str(tmp_path / "data"),
            "PYTHONPATH": str(ROOT),
        }
        self.log = tmp_path / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = Path(sys.executable).parent / "dagster-daemon"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(exe), "run", "-w", str(self.workspace)], env=self.env, stdout=log, stderr=log, cwd=self.home, start_new_session=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def cli(self, *args: str) -> str:
        exe = Path(sys.executable).parent / "dagster"
        done = subprocess.run([str(exe), *args, "-w", str(self.workspace)], env=self.env, capture_output=True, text=True, timeout=120, cwd=self.home)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def runs(self) -> list[dg.DagsterRun]:
        with dg.DagsterInstance.from_config(str(self.home)) as instance:
            return list(instance.get_runs())


def wait_for(what: str, check: Callable[[], bool], daemon: Daemon, timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}; daemon log:\n{daemon.log.read_text()[-5000:]}")


def finished(daemon: Daemon, count: int) -> Callable[[], bool]:
    def check() -> bool:
        runs = daemon.runs()
        return len(runs) == count and all(r.is_finished for r in runs)

    return check


def test_daemon_loads_dropped_files_exactly_once_across_restarts(write_config: Callable[..., LoadedPipeline], tmp_path: Path) -> None:
    write_config()
    drop, db = tmp_path / "drop", tmp_path / "warehouse.db"
    daemon = Daemon(tmp_path)
    try:
        daemon.start()
        (drop / "a.csv").write_text("id,amount\n1,10\n")
        wait_for("the first run", finished(daemon, 1), daemon)
        assert rows(db) == [(1, 10)]

        daemon.stop()  # restart: a file dropped while the daemon is down is picked up after
        (drop / "b.csv").write_text("id,amount\n2,20\n")
        daemon.start()
        wait_for("the second run", finished(daemon, 2), daemon)
        assert rows(db) == [(1, 10), (2, 20)]

        daemon.stop()  # the cursor is lost (as if the daemon crashed before saving it)
        daemon.cli("sensor", "cursor", SENSOR, "--delete")
        daemon.start()
        (drop / "c.csv").write_text("id,amount\n3,30\n")
        wait_for("the third run", finished(daemon, 3), daemon)
        time.sleep(5)  # a few more ticks: nothing else starts
        assert len(daemon.runs()) == 3
        assert rows(db) == [(1, 10), (2, 20), (3, 30)]
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in daemon.runs())
    finally:
        daemon.stop()
