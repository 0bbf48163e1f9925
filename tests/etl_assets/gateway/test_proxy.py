"""The proxy to Dagster: viewers reach the read-only webserver and can change nothing, admins can."""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.etl_assets.gateway.served import FinishedRun, Served

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("gateway")]

LAUNCH = """mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) { __typename ... on LaunchRunSuccess { run { runId } } }
}"""
LAUNCH_PARAMS = {"params": {"selector": {"repositoryLocationName": "etl_assets", "repositoryName": "__repository__", "pipelineName": "shop"}}}
PERMISSIONS = "query { permissions { permission value } }"


def _graphql(served: Served, token: str, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    with served.client(token) as client:
        return client.post("/graphql", json={"query": query, "variables": variables or {}}, **kwargs)


def test_viewers_reach_the_read_only_webserver(served: Served, admin_token: str, viewer_token: str) -> None:
    def launch_allowed(token: str) -> bool:
        permissions = _graphql(served, token, PERMISSIONS).json()["data"]["permissions"]
        return {p["permission"]: p["value"] for p in permissions}["launch_pipeline_execution"]

    assert launch_allowed(admin_token) is True
    assert launch_allowed(viewer_token) is False


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"json": {"query": LAUNCH, "variables": LAUNCH_PARAMS}},
        {"json": [{"query": "query { version }"}, {"query": LAUNCH, "variables": LAUNCH_PARAMS}]},
        {"content": "mutation { reloadWorkspace { __typename } }", "headers": {"Content-Type": "application/graphql"}},
        {"params": {"query": "mutation { reloadWorkspace { __typename } }"}},
        {"json": {"query": "mutation {"}},
    ],
    ids=["json", "batch", "application-graphql", "query-string", "unparseable"],
)
def test_viewer_graphql_mutations_are_refused(served: Served, viewer_token: str, request_kwargs: dict[str, Any]) -> None:
    with served.client(viewer_token) as client:
        response = client.post("/graphql", **request_kwargs)
        assert client.get("/graphql", params={"query": "mutation { reloadWorkspace { __typename } }"}).status_code == 403
    assert response.status_code == 403


def test_viewer_writes_outside_graphql_are_refused(served: Served, viewer_token: str) -> None:
    with served.client(viewer_token) as client:
        assert client.post("/report_asset_materialization/shop/orders").status_code == 403
        assert client.delete("/graphql").status_code == 403
        assert client.get("/runs", headers={"Accept": "text/html"}).status_code == 200  # the UI itself is served


def test_admin_mutations_pass_and_cross_site_requests_do_not(served: Served, admin_token: str, finished_run: FinishedRun) -> None:
    query = "query Run($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"
    same = _graphql(served, admin_token, query, {"id": finished_run.run["run_id"]}, headers={"Origin": served.url})
    assert same.json()["data"]["runOrError"] == {"__typename": "Run", "status": "SUCCESS"}
    assert _graphql(served, admin_token, query, {"id": "x"}, headers={"Origin": "http://evil.example"}).status_code == 403


def test_a_reload_from_the_ui_records_the_configs(served: Served, admin_token: str) -> None:
    (served.configs / "extra.yaml").write_text(served.pipeline_text.replace("pipeline: shop", "pipeline: extra"))
    reload = _graphql(served, admin_token, 'mutation { reloadRepositoryLocation(repositoryLocationName: "etl_assets") { __typename } }')
    assert reload.json()["data"]["reloadRepositoryLocation"]["__typename"] == "WorkspaceLocationEntry"
    deadline = time.monotonic() + 30
    with served.client(admin_token) as client:
        while (history := client.get("/api/v1/configs/extra/history")).status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "extra" in [p["name"] for p in client.get("/api/v1/pipelines").json()["pipelines"]]
    version = history.json()["versions"][0]
    assert (version["version"], version["source"], version["created_by"]) == (1, "loaded", "reload by ada")


def _ws(served: Served, token: str | None, origin: str | None = None) -> ClientConnection:
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **({"Origin": origin} if origin else {})}
    return connect(served.url.replace("http", "ws", 1) + "/graphql", subprotocols=["graphql-ws"], additional_headers=headers, open_timeout=20)  # type: ignore[list-item]


def _subscribe_to_logs(ws: ClientConnection, run_id: str) -> dict[str, Any]:
    ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(ws.recv(20))["type"] == "connection_ack"
    query = "subscription Logs($runId: ID!) { pipelineRunLogs(runId: $runId) { __typename ... on PipelineRunLogsSubscriptionSuccess { messages { __typename } } } }"
    ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": query, "variables": {"runId": run_id}}}))
    return json.loads(ws.recv(30))


def test_graphql_websocket_through_the_gateway(served: Served, viewer_token: str, finished_run: FinishedRun) -> None:
    with _ws(served, viewer_token, origin=served.url) as ws:
        data = _subscribe_to_logs(ws, finished_run.run["run_id"])
        assert data["type"] == "data"
        assert data["payload"]["data"]["pipelineRunLogs"]["__typename"] == "PipelineRunLogsSubscriptionSuccess"
        ws.send(json.dumps({"id": "2", "type": "start", "payload": {"query": LAUNCH, "variables": LAUNCH_PARAMS}}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(20)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


@pytest.mark.parametrize(("token", "origin"), [(None, None), ("bad-token", None), ("viewer", "http://evil.example")])
def test_graphql_websocket_refuses_strangers(served: Served, viewer_token: str, token: str | None, origin: str | None) -> None:
    with pytest.raises(InvalidStatus) as refused:
        _ws(served, viewer_token if token == "viewer" else token, origin)
    assert refused.value.response.status_code == 403
