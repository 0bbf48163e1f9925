"""Run pipelines written in a test end to end through Dagster, as a user would.

Every run loads the configs directory afresh and opens the Dagster instance from its directory
again (as a new process does), so state kept in the instance is tested across "restarts".
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import dagster as dg
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from etl_assets.config import load_all
from etl_assets.definitions import build_definitions


def file_to_sql(
    pipeline: str, csv: Path, url: str, *, table: str, mode: str, target_input: str = "raw",
    top: str = "", source_extra: str = "", middle: str = "",
) -> str:
    """The YAML of a pipeline reading `csv` (source `raw`) and loading `target_input` into `table`
    (target `load`, connection `db`); `top`, `source_extra` and `middle` are spliced in as is."""
    return f"""\
pipeline: {pipeline}
{top}connections:
  db:
    type: sql
    url: {url}
sources:
  - name: raw
    type: file
    path: {csv}
{source_extra}{middle}
targets:
  - name: load
    input: {target_input}
    type: sql
    connection: db
    table: {table}
    mode: {mode}
"""


@dataclass
class Project:
    """A configs directory, a data directory and a persistent Dagster home."""

    root: Path

    @property
    def configs(self) -> Path:
        return self.root / "configs"

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def data(self) -> Path:
        return self.root / "etl_data"

    def write(self, name: str, text: str) -> Path:
        """Write configs/<name>.yaml (dedented)."""
        self.configs.mkdir(parents=True, exist_ok=True)
        path = self.configs / f"{name}.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    def run(
        self, pipeline: str, select: list[str] | None = None, partition: str | None = None, tags: dict[str, str] | None = None, run_id: str | None = None
    ) -> "Run":
        """Execute the pipeline's job (or some of its assets) in this process, never raising."""
        pipelines, errors = load_all(self.configs)
        assert not errors, "\n".join(map(str, errors))
        job = build_definitions(pipelines, errors).resolve_job_def(pipeline)
        keys = [dg.AssetKey([pipeline, name]) for name in select] if select else None
        with self.instance() as instance:
            result = job.execute_in_process(instance=instance, raise_on_error=False, asset_selection=keys, partition_key=partition, tags=tags, run_id=run_id)
            logs = [e.user_message for e in instance.all_logs(result.run_id)]
        return Run(result, logs)

    def instance(self) -> Any:
        """The Dagster instance, opened from its directory (as a new process would)."""
        self.home.mkdir(parents=True, exist_ok=True)
        return dg.instance_for_test(temp_dir=str(self.home))

    def table(self, pipeline: str, asset: str) -> pa.Table:
        """The stored table of an asset (unpartitioned)."""
        with pa.OSFile(str(self.data / pipeline / asset / "all.arrow")) as f:
            return ipc.open_file(f).read_all()

    def stored(self, pipeline: str, asset: str) -> bool:
        return (self.data / pipeline / asset / "all.arrow").exists()


@dataclass
class Run:
    result: dg.ExecuteInProcessResult
    logs: list[str]
    """Every message of the run's event log (what the UI shows)."""

    @property
    def success(self) -> bool:
        return self.result.success

    def metadata(self, pipeline: str, asset: str) -> dict[str, Any]:
        """The metadata values of the asset's materialization in this run ({} if none)."""
        for event in self.result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            if mat.asset_key == dg.AssetKey([pipeline, asset]):
                return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        return {}

    def materialized(self) -> set[str]:
        return {e.event_specific_data.materialization.asset_key.path[-1] for e in self.result.get_asset_materialization_events()}

    def failures(self) -> list[str]:
        """The error messages of the failed steps."""
        out = []
        for event in self.result.all_events:
            if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.event_specific_data.error:
                out.append(event.event_specific_data.error.message)
        return out

    def text(self) -> str:
        """Everything a user could read about the run: logs, failures and metadata."""
        meta = [str(e.event_specific_data.materialization.metadata) for e in self.result.get_asset_materialization_events()]
        return "\n".join([*self.logs, *self.failures(), *meta])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A fresh project; stored tables go to its own data directory."""
    p = Project(tmp_path)
    monkeypatch.setenv("ETL_DATA_DIR", str(p.data))
    yield p
