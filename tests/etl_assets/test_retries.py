"""Retry policies end to end: a step failing twice then succeeding is retried and loads once;
an asset's own `retry` overrides the pipeline's."""
from __future__ import annotations

import uuid
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy

from etl_assets.config import load_pipeline
from etl_assets.config.models import RetryConfig
from etl_assets.definitions import build_definitions
from etl_assets.retries import retry_policy
from etl_assets.targets.sql import read_table

FLAKY = '''\
"""Fails until it has been called `succeed_on` times (counted in a file next to this module)."""
from pathlib import Path

COUNTER = Path(__file__).with_name("attempts.txt")


def on_third_attempt(frame):
    attempts = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(attempts))
    if attempts < 3:
        raise ConnectionResetError(f"attempt {attempts}: connection reset by peer")
    return frame
'''
CONFIG = """\
pipeline: flaky
connections:
  warehouse: {{type: sql, url: "sqlite:///{db}"}}
retry: {{max_retries: 0}}
sources:
  - {{name: raw, type: file, path: raw.csv}}
transforms:
  - name: fetched
    input: raw
    retry: {retry}
    steps:
      - python: "{module}:on_third_attempt"
targets:
  - {{name: out, input: fetched, type: sql, connection: warehouse, table: out, mode: append}}
"""


def run(tmp_path: Path, retry: str) -> tuple[dg.ExecuteInProcessResult, Path]:
    module = f"flaky_{uuid.uuid4().hex[:8]}"  # a fresh module (and counter) per test
    (tmp_path / f"{module}.py").write_text(FLAKY)
    (tmp_path / "raw.csv").write_text("id,v\n1,a\n2,b\n")
    db = tmp_path / "wh.db"
    (tmp_path / "flaky.yaml").write_text(CONFIG.format(db=db, retry=retry, module=module))
    job = build_definitions([load_pipeline(tmp_path / "flaky.yaml")], []).resolve_job_def("flaky")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False), db


def events(result: dg.ExecuteInProcessResult, kind: dg.DagsterEventType, step: str) -> int:
    return sum(1 for e in result.all_events if e.event_type == kind and e.step_key == step)


def test_failing_twice_then_succeeding_is_retried_and_loads_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path / "data"))
    result, db = run(tmp_path, "{max_retries: 2, delay_seconds: 0.2, backoff: exponential}")
    assert result.success
    assert (tmp_path / "attempts.txt").read_text() == "3"
    assert events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY, "flaky__fetched") == 2
    assert events(result, dg.DagsterEventType.STEP_SUCCESS, "flaky__out") == 1
    assert sorted(read_table(f"sqlite:///{db}", "out")["id"].tolist()) == [1, 2]  # loaded once


def test_too_few_retries_fail_and_load_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path / "data"))
    result, db = run(tmp_path, "{max_retries: 1, delay_seconds: 0}")
    assert not result.success
    assert (tmp_path / "attempts.txt").read_text() == "2"
    assert events(result, dg.DagsterEventType.STEP_FAILURE, "flaky__fetched") == 1
    assert not db.exists() or "out" not in sqlalchemy.inspect(sqlalchemy.create_engine(f"sqlite:///{db}")).get_table_names()


def test_policy_from_config(tmp_path: Path) -> None:
    (tmp_path / "flaky.yaml").write_text(CONFIG.format(db=tmp_path / "wh.db", retry="{max_retries: 4, delay_seconds: 3, backoff: linear}", module="m"))
    cfg = load_pipeline(tmp_path / "flaky.yaml").config
    assert retry_policy(cfg, cfg.transforms[0]) == dg.RetryPolicy(max_retries=4, delay=3, backoff=dg.Backoff.LINEAR)
    assert retry_policy(cfg, cfg.sources[0]) is None  # the pipeline's max_retries: 0
    no_pipeline_default = cfg.model_copy(update={"retry": RetryConfig(max_retries=2)})
    assert retry_policy(no_pipeline_default, no_pipeline_default.sources[0]) == dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL)
