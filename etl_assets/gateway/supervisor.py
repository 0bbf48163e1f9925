"""The Dagster processes behind the gateway: one code server, a normal and a read-only webserver, the daemon.

All listen on loopback ports only. Both webservers and the daemon load the code location from the
one code server, so a reload through either webserver reaches all of them.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import httpx
import yaml

from .state import DEFAULT_LOCATION

log = logging.getLogger("etl_assets.gateway")
LOOPBACK = "127.0.0.1"
# Gateway secrets stay in the gateway: runs execute pipeline code, which must not be able to mint sessions.
PRIVATE_ENV = ("ETL_GATEWAY_SECRET", "ETL_METRICS_TOKEN")
PRIVATE_ENV_PREFIX = "ETL_USER_"


class StartupError(Exception):
    """A Dagster process did not come up; the message names it."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment of the Dagster processes: everything but the gateway's secrets."""
    return {k: v for k, v in env.items() if k not in PRIVATE_ENV and not k.startswith(PRIVATE_ENV_PREFIX)}


@dataclass
class DagsterProcesses:
    """Start with `with DagsterProcesses() as procs:`; everything is stopped on exit."""

    daemon: bool = True
    location: str = DEFAULT_LOCATION
    startup_timeout: float = 300
    code_port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    viewer_port: int = field(default_factory=free_port)
    children: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def admin_url(self) -> str:
        return f"http://{LOOPBACK}:{self.admin_port}"

    @property
    def viewer_url(self) -> str:
        return f"http://{LOOPBACK}:{self.viewer_port}"

    def __enter__(self) -> "DagsterProcesses":
        self._tmp = tempfile.TemporaryDirectory(prefix="etl-serve-")
        try:
            self.start(Path(self._tmp.name))
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, tmp: Path) -> None:
        workspace = tmp / "workspace.yaml"
        entry = {"grpc_server": {"host": LOOPBACK, "port": self.code_port, "location_name": self.location}}
        workspace.write_text(yaml.safe_dump({"load_from": [entry]}))
        py = [sys.executable, "-m"]
        self._spawn("code server", [*py, "dagster", "code-server", "start", "-m", "etl_assets", "-a", "defs", "-d", os.getcwd(),
                                    "-h", LOOPBACK, "-p", str(self.code_port), "--location-name", self.location])
        self._wait("code server", self._code_server_up)
        web = [*py, "dagster_webserver", "-w", str(workspace), "-h", LOOPBACK]
        self._spawn("webserver", [*web, "-p", str(self.admin_port)])
        self._spawn("read-only webserver", [*web, "-p", str(self.viewer_port), "--read-only"])
        if self.daemon:
            self._spawn("daemon", [*py, "dagster._daemon", "run", "-w", str(workspace)])
        self._wait("webserver", lambda: _http_up(self.admin_url))
        self._wait("read-only webserver", lambda: _http_up(self.viewer_url))

    def _spawn(self, name: str, command: list[str]) -> None:
        log.info("starting %s", name)
        self.children[name] = subprocess.Popen(command, env=child_env(os.environ), start_new_session=True)

    def _wait(self, name: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while not ready():
            dead = self.dead()
            if dead:
                raise StartupError(f"the Dagster {dead} exited during startup (see its output above)")
            if time.monotonic() > deadline:
                raise StartupError(f"the Dagster {name} did not answer within {self.startup_timeout:.0f}s")
            time.sleep(0.5)

    def _code_server_up(self) -> bool:
        from dagster._grpc.client import DagsterGrpcClient

        try:
            DagsterGrpcClient(port=self.code_port, host=LOOPBACK).ping("etl")
            return True
        except Exception:  # noqa: BLE001 - not listening or still loading the code
            return False

    def dead(self) -> str | None:
        """The name of a child that has exited, if any."""
        return next((name for name, child in self.children.items() if child.poll() is not None), None)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM every child's process group (runs included), SIGKILL what is left after `timeout`."""
        for child in reversed(self.children.values()):
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait()
        self.children.clear()
        if hasattr(self, "_tmp"):
            self._tmp.cleanup()


def _signal_group(child: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass


def _http_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/server_info", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
