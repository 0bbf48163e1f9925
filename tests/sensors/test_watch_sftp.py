"""The watch sensor's SFTP lister against a real sshd: ticks, cursor, content changes, errors."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from resources.sftp import SftpResource
from sensors.cursor import WatchCursor
from sensors.listing import ListingError
from sensors.sftp import SftpLister
from sensors.watch import plan_tick
from tests.support.sensor_loop import SensorLoop
from tests.support.servers import SshServer, sftp_dir, sshd  # noqa: F401 - fixtures


def resource(server: SshServer, **overrides: object) -> SftpResource:
    settings = {"host": server.host, "port": str(server.port), "username": server.user, "private_key_path": str(server.client_key),
                "known_hosts": str(server.known_hosts), "max_retries": 0}
    return SftpResource(**{**settings, **overrides})


def tick(server: SshServer, pattern: str, cursor: WatchCursor, tmp_path: Path, limit: int = 10, **overrides: object) -> tuple[list[str], WatchCursor]:
    with resource(server, **overrides).session() as session:
        result = plan_tick(cursor, SftpLister(session, pattern, tmp_path), limit=limit, settled_before=1e12)
    return [f"{e.name}@{h}" for e, h in result.runs], result.cursor


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def put(folder: Path, name: str, data: bytes, mtime: int) -> None:
    (folder / name).write_bytes(data)
    (folder / name).chmod(0o644)
    os.utime(folder / name, (mtime, mtime))


def test_sftp_ticks(sshd: SshServer, sftp_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    pattern = f"{sftp_dir}/*.csv"
    runs, cursor = tick(sshd, pattern, WatchCursor(), tmp_path)
    assert runs == [] and cursor.files == {}

    put(sftp_dir, "a.csv", b"id\n1\n", 1_000)
    runs, cursor = tick(sshd, pattern, cursor, tmp_path)
    assert runs == [f"a.csv@{digest(b'id' + bytes([10]) + b'1' + bytes([10]))}"]
    assert {n: (s.size, s.mtime) for n, s in cursor.files.items()} == {"a.csv": (5, 1000.0)}

    runs, cursor = tick(sshd, pattern, cursor, tmp_path)  # same file again
    assert runs == [] and list(cursor.files) == ["a.csv"]

    put(sftp_dir, "a.csv", b"id\n2\n", 2_000)  # changed content
    put(sftp_dir, "b.csv", b"id\n3\n", 1_500)
    put(sftp_dir, "c.csv", b"id\n4\n", 1_600)
    runs, cursor = tick(sshd, pattern, cursor, tmp_path, limit=2)  # bounded: oldest two first
    assert [r.split("@")[0] for r in runs] == ["b.csv", "c.csv"]
    runs, cursor = tick(sshd, pattern, cursor, tmp_path, limit=2)
    assert [r.split("@")[0] for r in runs] == ["a.csv"]
    assert sorted(cursor.files) == ["a.csv", "b.csv", "c.csv"]

    (sftp_dir / "b.csv").unlink()
    runs, cursor = tick(sshd, pattern, cursor, tmp_path)
    assert runs == [] and sorted(cursor.files) == ["a.csv", "c.csv"]


def test_sftp_listing_errors_are_listing_errors(sshd: SshServer, sftp_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[{sshd.host}]:{sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
    with pytest.raises(ListingError, match="HOST KEY CHANGED"):
        tick(sshd, f"{sftp_dir}/*.csv", WatchCursor(), tmp_path, known_hosts=str(wrong))


CONFIG = """\
pipeline: remote
connections:
  drop: {{type: sftp, host: {host}, port: {port}, username: {user}, private_key_path: {key}, known_hosts: {known}}}
  warehouse: {{type: sql, url: "sqlite:///{db}"}}
sources:
  - name: uploads
    type: sftp
    connection: drop
    path: {folder}/*.csv
    watch: {{interval_seconds: 1, settle_seconds: 0, default_status: running}}
targets:
  - {{name: uploads_table, input: uploads, type: sql, connection: warehouse, table: uploads, mode: append}}
"""


def test_sftp_sensor_runs_load_exactly_their_files(sshd: SshServer, sftp_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import dagster as dg

    from etl_assets.config import load_pipeline
    from etl_assets.definitions import build_definitions
    from etl_assets.targets.sql import read_table

    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path / "data"))
    db = tmp_path / "wh.db"
    (tmp_path / "remote.yaml").write_text(
        CONFIG.format(host=sshd.host, port=sshd.port, user=sshd.user, key=sshd.client_key, known=sshd.known_hosts, db=db, folder=sftp_dir)
    )
    defs = build_definitions([load_pipeline(tmp_path / "remote.yaml")], [])
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        loop = SensorLoop(defs, "remote_uploads_sensor", "remote", instance).tick
        put(sftp_dir, "a.csv", b"id,v\n1,a\n", 1_000)
        assert loop() == 1
        put(sftp_dir, "b.csv", b"id,v\n2,b\n", 1_100)
        assert loop() == 1 and loop() == 0
    assert sorted(read_table(f"sqlite:///{db}", "uploads")["id"].tolist()) == [1, 2]  # each file once
