"""One real `etl serve` per test session: code server, a normal and a read-only dagster-webserver,
the daemon and the gateway, on PostgreSQL storage (a fresh database), with a small pipeline
(CSV -> checks with quarantine -> SQLite table and CSV file).

Every module that uses it is in the xdist group "gateway", so it starts once per run.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from typing import Iterator

import httpx
import pytest

from etl_assets.gateway.passwords import hash_password
from etl_assets.gateway.users import User, save_user
from tests.etl_assets.gateway.served import DAILY, ORDERS, PASSWORDS, PIPELINE, ROLES, FinishedRun, Served


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep `xdist_group` tests on one worker under `--dist loadgroup` with pytest >= 9.2.

    pytest-xdist marks a group by rewriting `item._nodeid`, which pytest 9.2's structured node ids
    no longer read (pytest-dev/pytest-xdist#1386), so the gateway tests would start one `etl serve`
    per worker. This gives their ids the `@<group>` suffix the scheduler looks for; it does nothing
    where xdist already did (older pytest, or a fixed xdist).
    """
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        marker = item.get_closest_marker("xdist_group")
        node_id = getattr(item, "_id", None)
        if marker and marker.args and node_id is not None and "@" not in item.nodeid.rpartition("]")[2]:
            item._id = type(node_id).parse(f"{item.nodeid}@{marker.args[0]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def dagster_pg(pg_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database for Dagster's storage (and the config history), for the session."""
    import psycopg
    from psycopg import sql

    name = f"etl_gateway_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield f"{pg_server.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory, dagster_pg: str) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("gateway")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("storage:\n  postgres:\n    postgres_url:\n      env: DAGSTER_PG_URL\ntelemetry:\n  enabled: false\n")
    configs = root / "configs"
    (configs / "data").mkdir(parents=True)
    (configs / "shop.yaml").write_text(PIPELINE)
    (configs / "daily_orders.yaml").write_text(DAILY)
    (configs / "data" / "orders.csv").write_text(ORDERS)
    users_file = root / "users.yaml"
    for name, password in PASSWORDS.items():
        save_user(users_file, User(name, ROLES.get(name, "viewer"), hash_password(password)))  # type: ignore[arg-type]
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": dagster_pg,
        "ETL_CONFIGS_DIR": str(configs),
        "ETL_USERS_FILE": str(users_file),
        "ETL_GATEWAY_SECRET": Served.secret,
        "ETL_METRICS_TOKEN": Served.metrics_token,
        "ETL_GATEWAY_LOGIN_LIMIT": "3/300",
        "ETL_GATEWAY_LOGIN_IP_LIMIT": "100000/300",
    }
    port = _free_port()
    log = root / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "etl_assets.cli", "serve", "--port", str(port)],
                                cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Served(f"http://127.0.0.1:{port}", root, configs, users_file, dagster_pg, log)
    try:
        _wait_healthy(server, proc)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_healthy(server: Served, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"etl serve exited with {proc.returncode}:\n{server.log_tail()}"
        try:
            if httpx.get(f"{server.url}/api/v1/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"etl serve not healthy after {timeout}s:\n{server.log_tail()}")


@pytest.fixture(scope="session")
def admin_token(served: Served) -> str:
    return served.login("ada")


@pytest.fixture(scope="session")
def viewer_token(served: Served) -> str:
    return served.login("vic")


@pytest.fixture(scope="session")
def finished_run(served: Served, admin_token: str) -> FinishedRun:
    """One whole-pipeline run launched through the API, waited for; and /metrics from before it."""
    with served.client(admin_token) as client:
        before = client.get("/metrics").text
        response = client.post("/api/v1/pipelines/shop/runs")
        assert response.status_code == 201, response.text
    run = served.wait_for_run(admin_token, response.json()["run_id"])
    assert run["status"] == "SUCCESS", f"{run}\n{served.log_tail()}"
    return FinishedRun(run, before)
