"""Uploading pipeline configs through the API, and the config history in Dagster's PostgreSQL database."""
from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Callable

import psycopg
import pytest

from etl_assets.cli import main as etl
from tests.etl_assets.gateway.served import Served

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("gateway")]
WORKSPACE_JOBS = "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { ... on RepositoryLocation { repositories { pipelines { name } } } } } } } }"


def _history_rows(served: Served) -> int:
    with psycopg.connect(served.pg_url) as conn:
        return conn.execute("SELECT count(*) FROM etl_config_history").fetchone()[0]


def _state(served: Served) -> tuple[list[str], int]:
    return sorted(p.name for p in served.configs.iterdir()), _history_rows(served)


def test_a_broken_upload_reports_every_error_and_changes_nothing(served: Served, admin_token: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = served.pipeline_text.replace("mode: append", "mode: upsert").replace("path: data/orders.csv", "path: data/${NO_SUCH_VAR}.csv")
    before = _state(served)
    with served.client(admin_token) as client:
        response = client.post("/api/v1/configs", json={"content": broken, "file_name": "orders2.yaml"})
        unparseable = client.post("/api/v1/configs", json={"content": "pipeline: [x\n"})
    assert response.status_code == 422, response.text
    assert _state(served) == before
    errors = response.json()["errors"]
    assert all(e.startswith("configs/orders2.yaml:") for e in errors) and len(errors) == 2
    (tmp_path / "orders2.yaml").write_text(broken)
    assert etl(["validate", str(tmp_path / "orders2.yaml")]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert [e.split(":", 1)[1] for e in errors] == [p.split(":", 1)[1] for p in printed]  # the same line:col: message
    assert "targets[0].mode: 'upsert' is not one of append, replace, merge, dedupe" in errors[1]
    assert unparseable.status_code == 422 and re.match(r"configs/upload\.yaml:\d+:\d+: ", unparseable.json()["errors"][0])


def test_an_upload_is_written_recorded_and_loaded(served: Served, admin_token: str, viewer_token: str) -> None:
    text = (served.pipeline_text.replace("pipeline: shop", "pipeline: shop_copy").replace("table: orders\n", "table: orders_copy\n")
            .replace("url: sqlite:///warehouse.db", "url: ${SHOP_COPY_URL:-sqlite:///warehouse.db}"))
    with served.client(admin_token) as client:
        first = client.post("/api/v1/configs", json={"content": text})
        again = client.post("/api/v1/configs", json={"content": text})
        second = client.post("/api/v1/configs", json={"content": text.replace("CSV export", "CSV export, again")})
        pipelines = [p["name"] for p in client.get("/api/v1/pipelines").json()["pipelines"]]
        conflict = client.post("/api/v1/configs", json={"content": text, "file_name": "other.yaml"})
    assert first.status_code == 201, first.text
    assert first.json() | {"sha256": ""} == {"pipeline": "shop_copy", "file": "shop_copy.yaml", "version": 1, "sha256": "", "new_version": True, "reload_error": None}
    assert (again.status_code, again.json()["version"], again.json()["new_version"]) == (200, 1, False)
    assert (second.status_code, second.json()["version"]) == (201, 2)
    assert "shop_copy" in pipelines
    assert conflict.status_code == 409 and "pipeline 'shop_copy' is already defined in configs/shop_copy.yaml" in conflict.json()["errors"][0]
    assert not (served.configs / "other.yaml").exists()
    with served.client(viewer_token) as client:
        history = client.get("/api/v1/configs/shop_copy/history").json()["versions"]
        assert _eventually(lambda: "shop_copy" in client.post("/graphql", json={"query": WORKSPACE_JOBS}).text)  # the read-only webserver too
    assert [(v["version"], v["source"], v["created_by"], v["current"]) for v in history] == [(2, "uploaded", "ada", True), (1, "uploaded", "ada", False)]
    assert history[1]["content"] == text and "${SHOP_COPY_URL:-" in history[1]["content"]  # secrets never expanded
    assert history[1]["sha256"] == hashlib.sha256(text.encode()).hexdigest()


def _eventually(condition: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def test_configs_loaded_at_start_are_in_the_history(served: Served, viewer_token: str) -> None:
    with served.client(viewer_token) as client:
        versions = client.get("/api/v1/configs/shop/history").json()["versions"]
        missing = client.get("/api/v1/configs/no_such_pipeline/history")
    assert [(v["version"], v["source"], v["created_by"], v["file_name"], v["current"]) for v in versions] == [(1, "loaded", "etl serve", "shop.yaml", True)]
    assert versions[0]["content"] == served.pipeline_text
    assert missing.status_code == 404
