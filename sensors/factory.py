"""All sensors of one pipeline: a watch sensor per watched source, and the alert sensors."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, ContextManager

import dagster as dg

from etl_assets.config import LoadedPipeline

from .alerts import build_alert_sensors
from .listing import FileLister, LocalLister
from .watch import build_watch_sensor


def lister_opener(loaded: LoadedPipeline, index: int) -> Callable[[], ContextManager[FileLister]]:
    """A function opening the lister of a watched source (called on each tick, never at load time)."""
    src = loaded.config.sources[index]
    if src.type == "sftp":
        from .sftp import sftp_lister_opener

        return sftp_lister_opener(loaded, index)
    return lambda: nullcontext(LocalLister(loaded.resolve_path(src.path)))


def build_sensors(loaded: LoadedPipeline, job: dg.UnresolvedAssetJobDefinition) -> list[dg.SensorDefinition]:
    sensors = [
        build_watch_sensor(loaded, i, job, lister_opener(loaded, i))
        for i, src in enumerate(loaded.config.sources)
        if getattr(src, "watch", None)
    ]
    return sensors + build_alert_sensors(loaded)
