"""SftpResource against a real OpenSSH sshd: auth, host key verification, globs, retried downloads."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from resources.sftp import HostKeyError, SftpAuthError, SftpError, SftpResource
from resources.templates import Secrets
from tests.support.servers import SshServer, fingerprint_of, sftp_dir, sshd  # noqa: F401 - fixtures


def resource(server: SshServer, **overrides: object) -> SftpResource:
    settings: dict[str, object] = {
        "host": server.host,
        "port": str(server.port),
        "username": server.user,
        "password": server.password,
        "known_hosts": str(server.known_hosts),
        "timeout_seconds": 5,
        "max_retries": 2,
        "retry_delay_seconds": 0.2,
    }
    settings.update(overrides)
    return SftpResource(**{k: v for k, v in settings.items() if v is not None})  # type: ignore[arg-type]


def put(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)
    return path


def test_password_login_lists_a_glob_and_downloads(sshd: SshServer, sftp_dir: Path, tmp_path: Path) -> None:
    for name in ("b_2.csv", "a_1.csv", "c_3.txt", ".a_hidden.csv", "sub/a_4.csv"):
        put(sftp_dir, name, f"x\n{name}\n".encode())
    with resource(sshd).session() as session:
        files = session.glob(f"{sftp_dir}/*_*.csv")
        assert [Path(f.path).name for f in files] == ["a_1.csv", "b_2.csv"]
        assert [f.size for f in files] == [len(b"x\na_1.csv\n"), len(b"x\nb_2.csv\n")]
        nested = session.glob(f"{sftp_dir}/s*/a_?.csv")
        assert [Path(f.path).name for f in nested] == ["a_4.csv"]
        assert session.download(files[1], tmp_path / "b.csv") == files[1].size
    assert (tmp_path / "b.csv").read_bytes() == b"x\nb_2.csv\n"


def test_key_login(sshd: SshServer, sftp_dir: Path) -> None:
    put(sftp_dir, "k.csv", b"k\n1\n")
    with resource(sshd, password=None, private_key_path=str(sshd.client_key)).session() as session:
        assert [f.size for f in session.glob(f"{sftp_dir}/k.csv")] == [4]


def test_a_pinned_fingerprint_replaces_known_hosts(sshd: SshServer, sftp_dir: Path) -> None:
    put(sftp_dir, "p.csv", b"p\n")
    with resource(sshd, known_hosts=None, host_key_fingerprint=sshd.fingerprint).session() as session:
        assert len(session.glob(f"{sftp_dir}/p.csv")) == 1


def test_wrong_pinned_fingerprint_is_refused(sshd: SshServer, tmp_path: Path) -> None:
    other = tmp_path / "other"
    os.system(f"ssh-keygen -q -t ed25519 -N '' -f {other}")
    wrong = fingerprint_of(Path(f"{other}.pub"))
    with pytest.raises(HostKeyError, match="does not match host_key_fingerprint") as err:
        with resource(sshd, known_hosts=None, host_key_fingerprint=wrong).session() as session:
            session.glob("/")
    assert sshd.fingerprint in str(err.value)  # says what the server offered


def test_a_changed_host_key_is_refused(sshd: SshServer, tmp_path: Path) -> None:
    other = tmp_path / "other"
    os.system(f"ssh-keygen -q -t ed25519 -N '' -f {other}")
    known = tmp_path / "known_hosts"
    known.write_text(f"[{sshd.host}]:{sshd.port} " + " ".join(Path(f"{other}.pub").read_text().split()[:2]) + "\n")
    started = time.monotonic()
    with pytest.raises(HostKeyError, match="HOST KEY CHANGED"):
        with resource(sshd, known_hosts=str(known), retry_delay_seconds=5).session() as session:
            session.glob("/")
    assert time.monotonic() - started < 4  # never retried


def test_an_unknown_host_is_refused(sshd: SshServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(HostKeyError, match="is not in"):
        with resource(sshd, known_hosts=str(known)).session() as session:
            session.glob("/")
    with pytest.raises(HostKeyError, match="does not exist"):
        with resource(sshd, known_hosts=str(tmp_path / "missing")).session() as session:
            session.glob("/")


def test_a_wrong_password_fails_at_once_without_retries(sshd: SshServer) -> None:
    started = time.monotonic()
    with pytest.raises(SftpAuthError, match="authentication failed"):
        with resource(sshd, password="wrong-password", retry_delay_seconds=5).session() as session:
            session.glob("/")
    assert time.monotonic() - started < 4


def test_a_password_from_the_environment_is_a_secret(sshd: SshServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTP_TEST_PASSWORD", "not-the-password-123")
    secrets = Secrets()
    with pytest.raises(SftpAuthError) as err:
        with resource(sshd, password="${SFTP_TEST_PASSWORD}").session(secrets=secrets) as session:
            session.glob("/")
    assert "not-the-password-123" in secrets.values
    assert "not-the-password-123" not in str(err.value)


def _big_file(directory: Path) -> tuple[Path, bytes]:
    data = os.urandom(1 << 20) * 64  # 64 MiB: long enough to be cut off mid-transfer
    return put(directory, "big.bin", data), data


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # paramiko's prefetch thread sees the EOF
def test_a_download_cut_off_mid_transfer_is_retried_on_a_new_connection(sshd: SshServer, sftp_dir: Path, tmp_path: Path) -> None:
    path, data = _big_file(sftp_dir)
    cut = threading.Event()

    def progress(done: int, total: int) -> None:
        if done > 0 and not cut.is_set():
            cut.set()
            sshd.stop()  # kills the open connection
            threading.Timer(0.3, sshd.start).start()

    with resource(sshd, retry_delay_seconds=1).session() as session:
        [file] = session.glob(str(path))
        got = session.download(file, tmp_path / "big.bin", progress=progress)
    assert cut.is_set()
    assert got == len(data)
    assert (tmp_path / "big.bin").read_bytes() == data


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_server_that_stays_down_fails_cleanly(sshd: SshServer, sftp_dir: Path, tmp_path: Path) -> None:
    path, _ = _big_file(sftp_dir)
    messages: list[str] = []
    with resource(sshd, retry_delay_seconds=0.1).session(log=messages.append) as session:
        [file] = session.glob(str(path))
        # The server dies under the open session (killing it from a progress callback races with
        # paramiko's prefetch, which may already hold the whole file on a fast machine).
        sshd.stop()
        with pytest.raises(SftpError, match="downloading .*big.bin failed"):
            session.download(file, tmp_path / "big.bin")
    assert len([m for m in messages if "retry" in m]) == 2  # max_retries
