"""The code location: every valid pipeline in the configs directory."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dagster as dg

from .config import ConfigError, LoadedPipeline, load_all
from .factory import build_pipeline
from .io_manager import TableIOManager

log = logging.getLogger("etl_assets")


def build_definitions(pipelines: list[LoadedPipeline], errors: list[ConfigError]) -> dg.Definitions:
    """Definitions for the valid pipelines; each broken file shows as a failing `etl_config_errors` asset."""
    assets: list[Any] = []
    jobs: list[Any] = []
    schedules: list[Any] = []
    sensors: list[Any] = []
    resources: dict[str, Any] = {"io_manager": TableIOManager()}
    for loaded in pipelines:
        built = build_pipeline(loaded)
        assets += built.assets
        jobs += built.jobs
        schedules += built.schedules
        sensors += built.sensors
        resources.update(built.resources)
    assets += _error_assets(errors)
    return dg.Definitions(
        assets=assets, jobs=jobs, schedules=schedules, sensors=sensors, resources=resources, executor=dg.in_process_executor
    )


def _error_assets(errors: list[ConfigError]) -> list[dg.AssetsDefinition]:
    """One asset per broken config file whose description lists its errors and whose run fails."""
    by_file: dict[str, list[ConfigError]] = {}
    for err in errors:
        by_file.setdefault(err.file, []).append(err)
    out = []
    for file, errs in sorted(by_file.items()):
        text = "\n".join(str(e) for e in errs)
        log.error("invalid pipeline config (other pipelines still load):\n%s", text)
        stem = "".join(c if c.isalnum() else "_" for c in Path(file).stem.lower()) or "config"
        out.append(_error_asset(stem, text))
    return out


def _error_asset(stem: str, text: str) -> dg.AssetsDefinition:
    @dg.asset(key=["etl_config_errors", stem], group_name="etl_config_errors", description=f"Invalid config:\n\n```\n{text}\n```")
    def config_error() -> None:
        raise dg.Failure(description=f"invalid pipeline config:\n{text}")

    return config_error


def load_definitions(directory: Path | None = None) -> dg.Definitions:
    """Read the configs directory and build the code location."""
    pipelines, errors = load_all(directory)
    return build_definitions(pipelines, errors)
