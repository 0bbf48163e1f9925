"""Real network peers on loopback, started by fixtures: OpenSSH sshd (SFTP) and an HTTP API process.

sshd needs root (it runs as root, and password login needs a real system user): the fixture
installs Debian's openssh-server when it is missing, creates the user `etl_sftp_test` with a fresh
random password, and runs `sshd -D -e -f <temp config>` on a free port with its own host key.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.conftest import server_unavailable

SSHD = "/usr/sbin/sshd"
SFTP_USER = "etl_sftp_test"
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(*cmd: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, input=stdin, text=True, capture_output=True, check=False, timeout=300)


def _ensure_openssh() -> bool:
    if Path(SSHD).exists() and shutil.which("ssh-keygen"):
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False, env=env, timeout=300)
    subprocess.run(["apt-get", "install", "-y", "-qq", "openssh-server"], capture_output=True, check=False, env=env, timeout=600)
    return Path(SSHD).exists()


def _password() -> str:
    """The test user's password: random, made once per machine, shared by parallel test workers."""
    path = Path("/var/lib/etl-sftp-test/password")
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f"password.{os.getpid()}")
        tmp.write_text("pw-" + secrets.token_urlsafe(16))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text()


def _ensure_user(password: str) -> None:
    if _run("id", SFTP_USER).returncode != 0:
        result = _run("useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh", SFTP_USER)
        if result.returncode != 0 and _run("id", SFTP_USER).returncode != 0:  # another worker may have won
            raise RuntimeError(f"useradd failed: {result.stderr}")
    result = _run("chpasswd", stdin=f"{SFTP_USER}:{password}\n")
    if result.returncode != 0:
        raise RuntimeError(f"chpasswd failed: {result.stderr}")


def _keygen(path: Path, kind: str = "ed25519") -> str:
    """Generate a key pair; returns the public key line."""
    _run("ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "etl-test", "-f", str(path))
    return Path(f"{path}.pub").read_text().strip()


def fingerprint_of(pub: Path) -> str:
    """`SHA256:...` as ssh-keygen prints it."""
    return _run("ssh-keygen", "-l", "-f", str(pub)).stdout.split()[1]


def _descendants(pid: int) -> list[int]:
    """Every process whose parent chain leads to pid (sshd's per-connection processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@dataclass
class SshServer:
    """A running sshd serving SFTP for `user` (password or key) on 127.0.0.1:port."""

    root: Path
    port: int
    password: str
    user: str = SFTP_USER
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None
    config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config = self.root / "sshd_config"

    @property
    def data(self) -> Path:
        """Directory the SFTP user can read (tests put their files here)."""
        return self.root / "data"

    @property
    def client_key(self) -> Path:
        return self.root / "client_key"

    @property
    def host_pub(self) -> Path:
        return self.root / "host_key.pub"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.host_pub)

    def start(self) -> None:
        log = open(self.root / "sshd.log", "ab")
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=log, stderr=log, start_new_session=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"sshd did not start: {(self.root / 'sshd.log').read_text()[-2000:]}")

    def stop(self) -> None:
        """Kill the listener and every open connection (as a crashed or stopped server would)."""
        if self.process is None:
            return
        # Find the connections first: once the listener dies they are re-parented and lost.
        for pid in [*_descendants(self.process.pid), self.process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
        self.process = None


def _write_sshd_config(server: SshServer) -> None:
    server.config.write_text(
        "\n".join(
            [
                f"Port {server.port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {server.root / 'host_key'}",
                f"PidFile {server.root / 'sshd.pid'}",
                f"AuthorizedKeysFile {server.root / 'authorized_keys'}",
                "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin no",
                f"AllowUsers {SFTP_USER}",
                "UsePAM no",
                "StrictModes no",
                "MaxStartups 50",
                "LogLevel VERBOSE",
                "Subsystem sftp internal-sftp",
                "",
            ]
        )
    )


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshServer]:
    """A real OpenSSH server for the session (per xdist worker)."""
    if os.geteuid() != 0:
        server_unavailable("sshd (the SFTP tests run sshd and create a test user, which needs root)")
    if not _ensure_openssh():
        server_unavailable("OpenSSH server (apt-get install openssh-server)")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="etl-sshd-", dir="/tmp"))
    root.chmod(0o755)
    server = SshServer(root=root, port=free_port(), password=_password())
    _ensure_user(server.password)
    host_pub = _keygen(root / "host_key")
    client_pub = _keygen(root / "client_key")
    (root / "authorized_keys").write_text(client_pub + "\n")
    (root / "authorized_keys").chmod(0o644)
    server.known_hosts.write_text(f"[{server.host}]:{server.port} {' '.join(host_pub.split()[:2])}\n")
    server.data.mkdir(mode=0o755)
    _write_sshd_config(server)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sftp_dir(sshd: SshServer) -> Iterator[Path]:
    """An empty directory on the server for one test."""
    path = Path(tempfile.mkdtemp(dir=sshd.data))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
    if sshd.process is None:  # a test stopped the server
        sshd.start()


# --- HTTP ---------------------------------------------------------------------------------------------


@dataclass
class FakeApi:
    """The process of tests/support/fake_api.py."""

    url: str
    process: subprocess.Popen[str]

    def stats(self) -> dict[str, int]:
        """Requests seen per path since the last reset."""
        return requests.get(f"{self.url}/_stats", timeout=5).json()

    def reset(self) -> None:
        requests.post(f"{self.url}/_reset", timeout=5).raise_for_status()


@pytest.fixture(scope="session")
def api_server() -> Iterator[FakeApi]:
    process = subprocess.Popen([sys.executable, str(HERE / "fake_api.py")], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"the fake API did not start: {line!r}")
    yield FakeApi(f"http://127.0.0.1:{int(line.split()[1])}", process)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def api(api_server: FakeApi) -> FakeApi:
    """The API with its request counts reset."""
    api_server.reset()
    return api_server
