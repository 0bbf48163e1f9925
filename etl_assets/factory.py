"""One validated pipeline config -> its Dagster definitions. Pure: no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from resources import SqlResource
from resources.http import HttpResource
from resources.sftp import SftpResource
from schedules import build_schedule
from sensors.factory import build_sensors

from .assets.common import AssetContext, redacted_tags, connection_resource_key
from .assets.sources import build_source_asset
from .assets.targets import build_target_asset
from .assets.transforms import build_transform_asset
from .config import LoadedPipeline
from .config.models import PipelineConfig
from .config.models import HttpConnection, SftpConnection, SqlConnection
from .partitions import partitions_def
from .sla import run_tags as sla_run_tags

_BUILDERS = {"sources": build_source_asset, "transforms": build_transform_asset, "targets": build_target_asset}


@dataclass
class PipelineDefinitions:
    """Everything one pipeline contributes to the code location."""

    assets: list[dg.AssetsDefinition] = field(default_factory=list)
    jobs: list[Any] = field(default_factory=list)
    schedules: list[Any] = field(default_factory=list)
    sensors: list[dg.SensorDefinition] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)


def build_pipeline(loaded: LoadedPipeline) -> PipelineDefinitions:
    """Assets, job, schedule, sensors and resources of one pipeline."""
    cfg = loaded.config
    out = PipelineDefinitions()
    for section, build in _BUILDERS.items():
        for index in range(len(getattr(cfg, section))):
            out.assets.append(build(AssetContext(loaded, section, index)))
    job = dg.define_asset_job(
        name=cfg.pipeline,
        selection=dg.AssetSelection.groups(cfg.pipeline),
        description=cfg.description,
        tags={"pipeline": cfg.pipeline, **redacted_tags(loaded), **sla_run_tags(cfg)},
        partitions_def=partitions_def(cfg),
        executor_def=executor_def(cfg),
    )
    out.jobs.append(job)
    if cfg.schedule is not None:
        out.schedules.append(build_schedule(loaded, job))
    out.sensors.extend(build_sensors(loaded, job))
    for name, conn in cfg.connections.items():
        if isinstance(conn, SqlConnection):
            out.resources[connection_resource_key(cfg.pipeline, name)] = SqlResource(
                url=_template(loaded, ("connections", name, "url")),
                base_dir=str(loaded.base_dir),
                timeout_seconds=conn.timeout_seconds,
            )
        elif isinstance(conn, SftpConnection):
            out.resources[connection_resource_key(cfg.pipeline, name)] = SftpResource.from_raw(loaded.raw["connections"][name], str(loaded.base_dir))
        elif isinstance(conn, HttpConnection):
            out.resources[connection_resource_key(cfg.pipeline, name)] = HttpResource.from_raw(loaded.raw["connections"][name])
    return out


def executor_def(cfg: PipelineConfig) -> dg.ExecutorDefinition:
    """The job's executor: in-process unless the config asks for a process per step."""
    if cfg.executor.type == "multiprocess":
        config = {"max_concurrent": cfg.executor.max_concurrent} if cfg.executor.max_concurrent else {}
        return dg.multiprocess_executor.configured(config) if config else dg.multiprocess_executor
    return dg.in_process_executor


def _template(loaded: LoadedPipeline, path: tuple[Any, ...]) -> str:
    """The raw config text at path (with `${VAR}` kept), for resources that interpolate at run time."""
    value: Any = loaded.raw
    for part in path:
        value = value[part]
    return str(value)
