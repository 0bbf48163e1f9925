"""The REST API against a real `etl serve`: every route's 401/403, and a run from launch to logs."""
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.etl_assets.gateway.served import FinishedRun, Served

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("gateway")]

RUN = "{run}"
ROUTES = [  # (method, path, role needed)
    ("GET", "/api/v1/auth/me", "viewer"),
    ("GET", "/api/v1/pipelines", "viewer"),
    ("GET", "/api/v1/pipelines/shop", "viewer"),
    ("POST", "/api/v1/pipelines/shop/runs", "admin"),
    ("GET", "/api/v1/pipelines/shop/assets/orders_table/preview", "viewer"),
    ("GET", "/api/v1/runs", "viewer"),
    ("GET", f"/api/v1/runs/{RUN}", "viewer"),
    ("GET", f"/api/v1/runs/{RUN}/logs", "viewer"),
    ("POST", f"/api/v1/runs/{RUN}/cancel", "admin"),
    ("POST", "/api/v1/configs", "admin"),
    ("GET", "/api/v1/configs/shop/history", "viewer"),
    ("GET", "/metrics", "viewer"),
    ("GET", "/graphql?query={version}", "viewer"),
    ("GET", "/server_info", "viewer"),
    ("GET", "/api/v1/openapi.json", "viewer"),
    ("GET", "/api/v1/docs", "viewer"),
]
UPLOAD = {"content": "pipeline: x\n"}


def _request(served: Served, token: str | None, method: str, path: str, run_id: str) -> int:
    with served.client(token) as client:
        body = UPLOAD if path == "/api/v1/configs" else None
        return client.request(method, path.replace(RUN, run_id), json=body).status_code


def test_health_answers_without_login(served: Served) -> None:
    with served.client() as client:
        response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "webserver": True, "read_only_webserver": True, "storage": True}


@pytest.mark.parametrize(("method", "path", "role"), ROUTES)
def test_every_route_needs_a_session(served: Served, finished_run: FinishedRun, method: str, path: str, role: str) -> None:
    assert _request(served, None, method, path, finished_run.run["run_id"]) == 401
    assert _request(served, "not-a-token", method, path, finished_run.run["run_id"]) == 401


@pytest.mark.parametrize(("method", "path", "role"), [r for r in ROUTES if r[2] == "admin"])
def test_admin_routes_refuse_viewers(served: Served, viewer_token: str, finished_run: FinishedRun, method: str, path: str, role: str) -> None:
    with served.client(viewer_token) as client:
        response = client.request(method, path.replace(RUN, finished_run.run["run_id"]), json=UPLOAD if "configs" in path else None)
    assert response.status_code == 403
    assert "needs role admin" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "role"), [r for r in ROUTES if r[2] == "viewer"])
def test_read_routes_answer_viewers(served: Served, viewer_token: str, finished_run: FinishedRun, method: str, path: str, role: str) -> None:
    assert _request(served, viewer_token, method, path, finished_run.run["run_id"]) == 200


def test_api_drives_a_run_from_launch_to_logs(served: Served, viewer_token: str, finished_run: FinishedRun) -> None:
    run = finished_run.run
    assert run["pipeline"] == "shop" and run["launched_by"] == "ada" and run["assets"] is None
    assert run["duration_seconds"] > 0
    results = {r["asset"]: r for r in run["asset_results"]}
    assert set(results) == {"shop/orders", "shop/orders_table", "shop/orders_export"}
    assert {r["status"] for r in results.values()} == {"materialized"}
    assert results["shop/orders"]["rows_quarantined"] == 1
    assert [c["name"] for c in results["shop/orders"]["checks"]] == ["columns"]
    assert results["shop/orders_table"]["rows_inserted"] == 3
    assert results["shop/orders_export"]["rows"] == 3
    with served.client(viewer_token) as client:
        detail = client.get("/api/v1/pipelines/shop").json()
        first = client.get(f"/api/v1/runs/{run['run_id']}/logs", params={"limit": 5}).json()
        rest = client.get(f"/api/v1/runs/{run['run_id']}/logs", params={"cursor": first["cursor"], "limit": 5000}).json()
        runs = client.get("/api/v1/runs", params={"pipeline": "shop"}).json()
    assert detail["last_run"] is not None and run["run_id"] in [r["run_id"] for r in runs]
    assert [a["asset"] for a in detail["assets"]] == ["shop/orders", "shop/orders_export", "shop/orders_table"]
    assert detail["assets"][0]["checks"] == ["columns"] and detail["assets"][2]["upstream"] == ["shop/orders"]
    assert detail["schedule"] is None and detail["sensors"] == []
    assert len(first["entries"]) == 5 and first["has_more"]
    events = [e["event_type"] for e in first["entries"] + rest["entries"]]
    assert {"RUN_START", "RUN_SUCCESS", "ASSET_MATERIALIZATION"} <= set(events) and not rest["has_more"]
    assert any("3 inserted" in e["message"] for e in rest["entries"])


def test_preview_reads_the_loaded_target(served: Served, viewer_token: str, finished_run: FinishedRun) -> None:
    with served.client(viewer_token) as client:
        table = client.get("/api/v1/pipelines/shop/assets/orders_table/preview", params={"limit": 2}).json()
        export = client.get("/api/v1/pipelines/shop/assets/orders_export/preview").json()
        source = client.get("/api/v1/pipelines/shop/assets/orders/preview").json()
        missing = client.get("/api/v1/pipelines/shop/assets/nope/preview")
    assert table["columns"] == ["order_id", "customer", "qty", "price"] and table["source"] == 'table "orders"'
    assert table["rows"][0][:2] == [1, "alice"] and len(table["rows"]) == 2
    assert [r[1] for r in export["rows"]] == ["alice", "carol", "dave"]
    assert len(source["rows"]) == 3 and source["source"].startswith("stored table")  # the quarantined row left
    assert missing.status_code == 404 and "no asset 'nope'" in missing.json()["detail"]


def test_launch_some_assets_of_a_partition_and_cancel(served: Served, admin_token: str, finished_run: FinishedRun) -> None:
    with served.client(admin_token) as client:
        assert client.post("/api/v1/pipelines/shop/runs", json={"assets": ["nope"]}).status_code == 422
        assert client.post("/api/v1/pipelines/nope/runs").status_code == 404
        unpartitioned = client.post("/api/v1/pipelines/shop/runs", json={"partition": "2024-01-02"})
        assert unpartitioned.status_code == 422 and "it is not partitioned" in unpartitioned.json()["detail"]
        too_early = client.post("/api/v1/pipelines/daily_orders/runs", json={"partition": "1999-01-01"})
        assert too_early.status_code == 422 and "partitions 2024-01-01 to " in too_early.json()["detail"]
        launched = client.post("/api/v1/pipelines/daily_orders/runs", json={"assets": ["daily_orders/day_orders"], "partition": "2024-01-02"})
        assert launched.status_code == 201, launched.text
        run_id = launched.json()["run_id"]
        canceled = client.post(f"/api/v1/runs/{run_id}/cancel")
        assert canceled.status_code == 202, canceled.text
        assert canceled.json()["status"] in ("CANCELING", "CANCELED")
    run = served.wait_for_run(admin_token, run_id)
    assert (run["status"], run["assets"], run["partition"]) == ("CANCELED", ["daily_orders/day_orders"], "2024-01-02")
    with served.client(admin_token) as client:
        assert client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 409
        assert client.post("/api/v1/runs/no-such-run/cancel").status_code == 404
        assert client.get("/api/v1/runs/no-such-run").status_code == 404


def _value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_metrics_move_after_a_run(served: Served, viewer_token: str, finished_run: FinishedRun) -> None:
    with served.client(viewer_token) as client:
        after = client.get("/metrics").text
    with served.client(served.metrics_token) as scraper:
        assert scraper.get("/metrics").status_code == 200
        assert scraper.get("/api/v1/pipelines").status_code == 401  # the scrape token opens /metrics only
    before = finished_run.metrics_before
    moved = {
        ("etl_runs_total", (("pipeline", "shop"), ("status", "success"))): 1,
        ("etl_run_duration_seconds_count", (("pipeline", "shop"), ("status", "success"))): 1,
        ("etl_rows_loaded_total", (("asset", "shop/orders_table"), ("operation", "inserted"))): 3,
        ("etl_rows_quarantined_total", (("asset", "shop/orders"),)): 1,
        ("etl_asset_checks_total", (("asset", "shop/orders"), ("check", "columns"))): 1,
        ("etl_asset_rows_total", (("asset", "shop/orders_export"),)): 3,
    }
    for (name, labels), delta in moved.items():
        assert _value(after, name, **dict(labels)) - _value(before, name, **dict(labels)) >= delta, name
