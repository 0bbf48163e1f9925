"""The running `etl serve` of the gateway tests, and the pipeline it serves (shared by conftest and tests)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SECRET = "gateway-test-secret-" + "s" * 40
METRICS_TOKEN = "metrics-scraper-token"
PASSWORDS = {"ada": "ada-password-1", "vic": "vic-password-1", "web_admin": "web-admin-pass", "web_viewer": "web-viewer-pass",
             "rl": "rate-limited-1", "gone": "gone-password-1", "moved": "moved-password-1"}
ROLES = {"ada": "admin", "web_admin": "admin"}
PIPELINE = """\
pipeline: shop
description: Orders from a CSV file into SQLite and a CSV export
connections:
  warehouse:
    type: sql
    url: sqlite:///warehouse.db
sources:
  - name: orders
    type: file
    path: data/orders.csv
    checks:
      on_failure: quarantine
      columns:
        qty: {ge: 0}
targets:
  - name: orders_table
    input: orders
    type: sql
    connection: warehouse
    table: orders
    mode: append
  - name: orders_export
    input: orders
    type: file
    path: out/orders.csv
"""
DAILY = """\
pipeline: daily_orders
description: A partitioned pipeline (launched with a partition, then canceled)
partitions: {type: daily, start: "2024-01-01", column: day}
sources:
  - name: day_orders
    type: file
    path: data/orders.csv
targets:
  - name: day_orders_export
    input: day_orders
    type: file
    path: out/day_orders.csv
"""
ORDERS = "order_id,customer,qty,price\n1,alice,2,9.5\n2,bob,-1,3.0\n3,carol,5,1.25\n4,dave,1,20.0\n"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass
class Served:
    """The running gateway and where its files are."""

    url: str
    root: Path
    configs: Path
    users_file: Path
    pg_url: str
    log: Path
    secret: str = SECRET
    metrics_token: str = METRICS_TOKEN
    pipeline_text: str = PIPELINE

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120, **kwargs)

    @staticmethod
    def password(user: str) -> str:
        return PASSWORDS[user]

    def login(self, user: str) -> str:
        with self.client() as client:
            response = client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORDS[user]})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def wait_for_run(self, token: str, run_id: str, timeout: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.client(token) as client:
            while True:
                run = client.get(f"/api/v1/runs/{run_id}").json()
                if run["status"] in FINISHED:
                    return run
                assert time.monotonic() < deadline, f"run {run_id} still {run['status']} after {timeout}s\n{self.log_tail()}"
                time.sleep(1)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class FinishedRun:
    run: dict[str, Any]
    metrics_before: str
