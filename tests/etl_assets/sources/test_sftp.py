"""SFTP sources end to end through Dagster, against a real OpenSSH sshd started by a fixture."""
from __future__ import annotations

import glob
import json
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from sensors.runs import FILES_TAG, SOURCE_TAG
from tests.support.pipelines import Project, project  # noqa: F401 - fixture
from tests.support.servers import SshServer, sftp_dir, sshd  # noqa: F401 - fixtures


def write_pipeline(project: Project, server: SshServer, path: str, auth: str, extra: str = "") -> None:
    project.write(
        "drop",
        f"""\
pipeline: drop
connections:
  box:
    type: sftp
    host: {server.host}
    port: {server.port}
    username: {server.user}
    timeout_seconds: 5
    max_retries: 1
    retry_delay_seconds: 0.2
    {auth}
sources:
  - name: airlines
    type: sftp
    connection: box
    path: {path}
    {extra}
targets:
  - name: airlines_file
    input: airlines
    type: file
    path: out/airlines.csv
""",
    )


def put(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text)
    (directory / name).chmod(0o644)


@pytest.fixture
def three_files(sftp_dir: Path) -> Path:
    put(sftp_dir, "airlines_1.csv", "carrier,name\nAA,American\nB6,JetBlue\n")
    put(sftp_dir, "airlines_2.csv", "carrier,name\nDL,Delta\n")
    put(sftp_dir, "airlines_3.csv", "carrier,name\nUA,United\n")
    put(sftp_dir, "other.csv", "carrier,name\nXX,Nope\n")
    return sftp_dir


ROWS = [
    {"carrier": "AA", "name": "American"},
    {"carrier": "B6", "name": "JetBlue"},
    {"carrier": "DL", "name": "Delta"},
    {"carrier": "UA", "name": "United"},
]


def test_password_auth_reads_every_file_of_a_glob(sshd: SshServer, three_files: Path, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTP_PASSWORD", sshd.password)
    write_pipeline(project, sshd, f"{three_files}/airlines_*.csv", f"password: ${{SFTP_PASSWORD}}\n    known_hosts: {sshd.known_hosts}")
    run = project.run("drop")
    assert run.success, run.failures()
    assert project.table("drop", "airlines").to_pylist() == ROWS
    meta = run.metadata("drop", "airlines")
    assert meta["server"] == f"sftp://{sshd.user}@{sshd.host}:{sshd.port}"
    assert meta["files"] == [f"{three_files}/airlines_{i}.csv" for i in (1, 2, 3)]
    assert meta["file_count"] == 3 and meta["bytes"] == sum((three_files / f"airlines_{i}.csv").stat().st_size for i in (1, 2, 3))
    assert sshd.password not in run.text()
    assert (project.configs / "out" / "airlines.csv").read_text().count("\n") == 5


def test_a_run_started_by_the_watch_sensor_reads_only_its_files(sshd: SshServer, three_files: Path, project: Project) -> None:
    write_pipeline(project, sshd, f"{three_files}/airlines_*.csv", f"password: {sshd.password}\n    known_hosts: {sshd.known_hosts}")
    tags = {SOURCE_TAG: "airlines", FILES_TAG: json.dumps(["airlines_3.csv", "airlines_1.csv"])}
    run = project.run("drop", select=["airlines"], tags=tags)
    assert run.success, run.failures()
    assert project.table("drop", "airlines").to_pylist() == [ROWS[3], ROWS[0], ROWS[1]]
    (three_files / "airlines_1.csv").unlink()
    gone = project.run("drop", select=["airlines"], tags=tags)
    assert not gone.success and "airlines_1.csv started this run but no longer match" in gone.failures()[0]


def test_key_auth_with_a_pinned_fingerprint_and_a_format(sshd: SshServer, sftp_dir: Path, project: Project) -> None:
    put(sftp_dir, "feed.data", '{"carrier": "AA", "name": {"short": "American"}}\n{"carrier": "DL", "name": {"short": "Delta"}}\n')
    auth = f"private_key_path: {sshd.client_key}\n    host_key_fingerprint: {sshd.fingerprint}"
    write_pipeline(project, sshd, f"{sftp_dir}/feed.data", auth, extra="format: jsonl")
    run = project.run("drop", select=["airlines"])
    assert run.success, run.failures()
    assert project.table("drop", "airlines").to_pylist() == [{"carrier": "AA", "name.short": "American"}, {"carrier": "DL", "name.short": "Delta"}]


def test_a_wrong_host_key_fails_the_run_and_loads_nothing(sshd: SshServer, three_files: Path, project: Project, tmp_path: Path) -> None:
    other = tmp_path / "other"
    os.system(f"ssh-keygen -q -t ed25519 -N '' -f {other}")
    known = tmp_path / "known_hosts"
    known.write_text(f"[{sshd.host}]:{sshd.port} " + " ".join(Path(f"{other}.pub").read_text().split()[:2]) + "\n")
    write_pipeline(project, sshd, f"{three_files}/airlines_*.csv", f"password: {sshd.password}\n    known_hosts: {known}")
    run = project.run("drop")
    assert not run.success
    assert "HOST KEY CHANGED" in run.failures()[0]
    assert not project.stored("drop", "airlines") and not (project.configs / "out").exists()
    assert sshd.password not in run.text()


def test_no_matching_remote_file_is_a_clear_error(sshd: SshServer, sftp_dir: Path, project: Project) -> None:
    write_pipeline(project, sshd, f"{sftp_dir}/missing_*.csv", f"password: {sshd.password}\n    known_hosts: {sshd.known_hosts}")
    run = project.run("drop", select=["airlines"])
    assert not run.success
    assert "no remote file matches" in run.failures()[0]


def _stop_when_download_starts(server: SshServer, name: str) -> threading.Thread:
    """Stop the server as soon as a local copy of `name` has bytes in it."""

    def watch() -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            for path in glob.glob(os.path.join(tempfile.gettempdir(), "etl-sftp-*", f"*_{name}")):
                try:
                    if os.path.getsize(path) > 0:
                        server.stop()
                        return
                except OSError:
                    pass
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # paramiko's prefetch thread sees the EOF
def test_a_server_stopped_mid_download_fails_cleanly_with_no_partial_table(sshd: SshServer, sftp_dir: Path, project: Project) -> None:
    name = f"big_{uuid.uuid4().hex}.csv"
    row = "AA,American Airlines Inc. and a long padding text to make the file big\n"
    put(sftp_dir, name, "carrier,name\n" + row * 1_000_000)  # ~70 MB
    write_pipeline(project, sshd, f"{sftp_dir}/{name}", f"password: {sshd.password}\n    known_hosts: {sshd.known_hosts}")
    watcher = _stop_when_download_starts(sshd, name)
    run = project.run("drop")
    watcher.join(timeout=5)
    assert sshd.process is None, "the server was not stopped during the download"
    assert not run.success
    assert "drop/airlines" not in str(run.materialized()) and not run.materialized()
    assert any("retry 1/1" in line for line in run.logs)
    assert not project.stored("drop", "airlines")
    assert not list((project.data / ".staging").rglob("*.parquet*")) if (project.data / ".staging").exists() else True
    assert not glob.glob(os.path.join(tempfile.gettempdir(), "etl-sftp-*", f"*_{name}"))  # temp copies removed
