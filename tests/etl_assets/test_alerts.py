"""Alerts delivered to a real HTTP receiver and a real SMTP server on loopback: run failure, blocking
check failure, max-runtime SLA miss and stale targets; content checked, secrets absent."""
from __future__ import annotations

import json
import logging
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import dagster as dg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from etl_assets.alerts import Alert, AlertDeliveryError, send_alert
from etl_assets.config import LoadedPipeline, load_pipeline
from etl_assets.definitions import build_definitions
from sensors.alerts import stale_alerts
from tests.support.servers import free_port

HOOK_TOKEN = "T0KEN-hook-9f8e7d"
SMTP_PASSWORD = "smtp-pa55-word"
DROP_SECRET = "secretdropdir"
UI = "http://dagster.example:3000"


class Webhook:
    """An HTTP server on loopback that records JSON POST bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                received.paths.append(self.path)
                received.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/{HOOK_TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Mailbox:
    """Collects what the aiosmtpd server received."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password.decode() == SMTP_PASSWORD)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), authenticator=box.authenticate, auth_require_tls=False)
    controller.start()
    box.port = controller.port  # type: ignore[attr-defined]
    yield box
    controller.stop()


CONFIG = """\
pipeline: orders
connections:
  warehouse: {{type: sql, url: "sqlite:///{db}"}}
sources:
  - name: raw_orders
    type: file
    path: ${{DROP_DIR}}/orders_*.csv
targets:
  - name: orders_table
    input: raw_orders
    type: sql
    connection: warehouse
    table: orders
alerts:
  on: {on}
  webhook: ${{ALERT_WEBHOOK_URL}}
  email: {{smtp_host: 127.0.0.1, smtp_port: {port}, sender: etl@example.com, to: [oncall@example.com], username: etl, password: "${{SMTP_PASSWORD}}"}}
  ui_base_url: {ui}
sla: {{max_runtime_minutes: 1, freshness_minutes: 30}}
"""


@pytest.fixture
def pipeline(tmp_path: Path, webhook: Webhook, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> Callable[..., LoadedPipeline]:
    drop = tmp_path / DROP_SECRET
    drop.mkdir()
    monkeypatch.setenv("DROP_DIR", str(drop))
    monkeypatch.setenv("ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path / "data"))

    def make(on: str = "[run_failure, check_failure, sla_miss]") -> LoadedPipeline:
        path = tmp_path / "orders.yaml"
        path.write_text(CONFIG.format(db=tmp_path / "wh.db", port=mailbox.port, on=on, ui=UI))  # type: ignore[attr-defined]
        return load_pipeline(path)

    return make


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (HOOK_TOKEN, SMTP_PASSWORD, DROP_SECRET):
            assert secret not in text


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, defs: dg.Definitions, cursor: str | None) -> str | None:
    data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, sensor_name=sensor.name))
    return data.cursor


def failure_sensor(defs: dg.Definitions) -> dg.SensorDefinition:
    return defs.resolve_sensor_def("orders_alerts_sensor")


def run_between_ticks(defs: dg.Definitions, tmp_path: Path, job: str = "orders") -> dg.ExecuteInProcessResult:
    """Tick the alert sensor, run `job`, tick again (as the daemon does around a run)."""
    sensor = failure_sensor(defs)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        cursor = tick(sensor, instance, defs, None)
        result = defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)
        tick(sensor, instance, defs, cursor)
    return result


def test_a_failed_run_is_alerted_by_webhook_and_email(pipeline: Callable[..., LoadedPipeline], webhook: Webhook, mailbox: Mailbox, tmp_path: Path) -> None:
    loaded = pipeline()
    defs = build_definitions([loaded], [])
    sensor = failure_sensor(defs)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        cursor = tick(sensor, instance, defs, None)  # the first tick starts from now
        result = defs.resolve_job_def("orders").execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        assert instance.get_run_by_id(result.run_id).tags["dagster/max_runtime"] == "60"
        cursor = tick(sensor, instance, defs, cursor)
        tick(sensor, instance, defs, cursor)  # nothing new: no second alert
    assert len(webhook.bodies) == 1 and len(mailbox.messages) == 1
    body = webhook.bodies[0]
    assert body["kind"] == "run_failure" and body["pipeline"] == "orders" and body["run_id"] == result.run_id
    assert body["assets"] == ["orders/raw_orders"]
    assert body["url"] == f"{UI}/runs/{result.run_id}"
    text = body["text"]
    assert text.startswith("[orders] Run failed: orders/raw_orders: ")
    assert "no file matches" in text and f"link: {UI}/runs/{result.run_id}" in text and f"run: {result.run_id}" in text
    mail = mailbox.messages[0]
    assert mail["To"] == "oncall@example.com" and mail["From"] == "etl@example.com"
    assert mail["Subject"] == text.splitlines()[0]
    assert mail.get_content().replace("\r\n", "\n").strip() == text.strip()
    assert mailbox.logins == [("etl", SMTP_PASSWORD)]
    assert_no_secret(json.dumps(body), mail.as_string())


def test_runs_of_other_pipelines_are_not_alerted(pipeline: Callable[..., LoadedPipeline], webhook: Webhook, tmp_path: Path) -> None:
    loaded = pipeline()

    @dg.asset(key=["other", "boom"])
    def boom() -> None:
        raise RuntimeError("not ours")

    defs = dg.Definitions.merge(build_definitions([loaded], []), dg.Definitions(assets=[boom], jobs=[dg.define_asset_job("other", selection=[boom])]))
    assert not run_between_ticks(defs, tmp_path, "other").success
    assert webhook.bodies == []


def test_a_blocking_check_failure_is_a_check_failure_alert(pipeline: Callable[..., LoadedPipeline], webhook: Webhook, tmp_path: Path) -> None:
    loaded = pipeline()

    @dg.asset(key=["orders", "clean"], check_specs=[dg.AssetCheckSpec("row_count", asset=["orders", "clean"], blocking=True)])
    def clean() -> Iterator[Any]:
        yield dg.Output(1)
        yield dg.AssetCheckResult(check_name="row_count", passed=False, description="0 rows, expected at least 1")

    @dg.asset(key=["orders", "after"], deps=[clean])
    def after() -> None:
        pass

    defs = dg.Definitions(
        assets=[clean, after],
        jobs=[dg.define_asset_job("orders", selection=[clean, after])],
        sensors=build_definitions([loaded], []).sensors,
    )
    result = run_between_ticks(defs, tmp_path)
    assert not result.success
    body = webhook.bodies[0]
    assert body["kind"] == "check_failure" and body["assets"] == ["orders/clean"]
    assert "check row_count failed: 0 rows, expected at least 1" in body["text"]
    assert f"/runs/{result.run_id}" in body["text"]


def test_a_failing_config_check_is_alerted(pipeline: Callable[..., LoadedPipeline], webhook: Webhook, tmp_path: Path) -> None:
    loaded = pipeline()
    path = loaded.file
    path.write_text(path.read_text().replace(
        "    path: ${DROP_DIR}/orders_*.csv\n",
        "    path: ${DROP_DIR}/orders_*.csv\n    checks: {columns: {amount: {ge: 0}}}\n",
    ))
    (tmp_path / DROP_SECRET / "orders_1.csv").write_text("id,amount\n1,5\n2,-1\n3,-2\n")
    loaded = load_pipeline(path)
    defs = build_definitions([loaded], [])
    result = run_between_ticks(defs, tmp_path)
    assert not result.success
    body = webhook.bodies[0]
    assert body["kind"] == "check_failure" and body["assets"] == ["orders/raw_orders"]
    assert body["text"].startswith("[orders] Check failed: orders/raw_orders: check ")
    assert "2 failing row(s)" in body["text"]
    assert_no_secret(json.dumps(body))


def test_a_run_stopped_for_max_runtime_is_an_sla_miss(pipeline: Callable[..., LoadedPipeline], webhook: Webhook, tmp_path: Path) -> None:
    from dagster._daemon.monitoring.run_monitoring import check_run_timeout  # what the monitoring daemon runs

    loaded = pipeline()
    defs = build_definitions([loaded], [])
    sensor = failure_sensor(defs)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        cursor = tick(sensor, instance, defs, None)
        job = defs.resolve_job_def("orders")
        run = instance.create_run_for_job(job, tags=dict(job.tags))
        instance.handle_new_event(
            dg.EventLogEntry(
                error_info=None, level=logging.DEBUG, user_message="", run_id=run.run_id, timestamp=time.time() - 120,
                dagster_event=dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name="orders"),
            )
        )
        check_run_timeout(instance, instance.get_run_record_by_id(run.run_id), logging.getLogger("test"), 0)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        tick(sensor, instance, defs, cursor)
    body = webhook.bodies[0]
    assert body["kind"] == "sla_miss" and body["run_id"] == run.run_id
    assert "run exceeded sla.max_runtime_minutes (Canceling due to exceeding maximum runtime of 60 seconds.)" in body["text"]


def test_alerts_on_filters_kinds(pipeline: Callable[..., LoadedPipeline], webhook: Webhook, tmp_path: Path) -> None:
    loaded = pipeline(on="[sla_miss]")
    defs = build_definitions([loaded], [])
    run_between_ticks(defs, tmp_path)
    assert webhook.bodies == []


def test_a_stale_target_is_an_sla_miss_once_per_load(pipeline: Callable[..., LoadedPipeline], webhook: Webhook, mailbox: Mailbox, tmp_path: Path) -> None:
    loaded = pipeline()
    defs = build_definitions([loaded], [])
    spec = defs.get_repository_def().asset_graph.get(dg.AssetKey(["orders", "orders_table"]))
    assert spec.freshness_policy == dg.FreshnessPolicy.time_window(fail_window=__import__("datetime").timedelta(minutes=30))
    assert defs.resolve_sensor_def("orders_freshness_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        now = time.time()
        alerts, cursor = stale_alerts(loaded, instance, {}, now)
        assert alerts == [] and cursor == {"since": now, "alerted": {}}
        alerts, cursor = stale_alerts(loaded, instance, cursor, now + 31 * 60)  # never loaded, 31 minutes on
        assert [a.what for a in alerts] == ["not loaded for more than 30 minutes (never loaded)"]
        assert stale_alerts(loaded, instance, cursor, now + 40 * 60)[0] == []  # alerted once
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=["orders", "orders_table"]))
        loaded_at = instance.get_latest_materialization_event(dg.AssetKey(["orders", "orders_table"])).timestamp
        assert stale_alerts(loaded, instance, cursor, loaded_at + 60)[0] == []  # fresh again
        alerts, cursor = stale_alerts(loaded, instance, cursor, loaded_at + 31 * 60)
        assert len(alerts) == 1 and "last load" in alerts[0].what and alerts[0].assets == ["orders/orders_table"]
        send_alert(loaded, alerts[0])
    body = webhook.bodies[0]
    assert body["kind"] == "sla_miss" and body["text"].startswith("[orders] SLA missed: not loaded for more than 30 minutes (last load ")
    assert mailbox.messages[0]["Subject"].startswith("[orders] SLA missed")


def test_the_freshness_sensor_keeps_its_cursor(pipeline: Callable[..., LoadedPipeline], webhook: Webhook, tmp_path: Path) -> None:
    defs = build_definitions([pipeline()], [])
    sensor = defs.resolve_sensor_def("orders_freshness_sensor")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        cursor = tick(sensor, instance, defs, None)
        assert json.loads(cursor or "{}")["alerted"] == {}
        assert tick(sensor, instance, defs, cursor) == cursor  # fresh (just started): nothing sent
    assert webhook.bodies == []


def test_delivery_failure_is_reported_without_the_webhook_url(pipeline: Callable[..., LoadedPipeline], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/services/{HOOK_TOKEN}")
    loaded = pipeline()
    with pytest.raises(AlertDeliveryError) as err:
        send_alert(loaded, Alert(kind="run_failure", pipeline="orders", what="x", run_id="r1"), pause=0)
    assert "webhook: ConnectionError" in str(err.value)
    assert_no_secret(str(err.value))


def test_a_literal_secret_in_the_message_is_redacted(pipeline: Callable[..., LoadedPipeline], webhook: Webhook) -> None:
    loaded = pipeline()
    send_alert(loaded, Alert(kind="run_failure", pipeline="orders", what=f"connect {webhook.url} failed with {SMTP_PASSWORD}", run_id="r1"))
    assert_no_secret(json.dumps(webhook.bodies[0]))
    assert "***" in webhook.bodies[0]["text"]
