"""`sla` -> Dagster: a run-time limit as the `dagster/max_runtime` run tag (enforced by run monitoring)
and a freshness policy on every target."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import dagster as dg

from .config.models import PipelineConfig

MAX_RUNTIME_TAG = "dagster/max_runtime"
MAX_RUNTIME_MESSAGE = "maximum runtime"
"""What Dagster's run monitoring says (lower case) when it stops a run for overrunning."""


def run_tags(cfg: PipelineConfig) -> dict[str, str]:
    """Tags every run of the pipeline's job carries: the run-time limit in seconds."""
    if cfg.sla is None or cfg.sla.max_runtime_minutes is None:
        return {}
    return {MAX_RUNTIME_TAG: str(max(1, round(cfg.sla.max_runtime_minutes * 60)))}


def freshness_policy(cfg: PipelineConfig, section: str) -> dg.FreshnessPolicy | None:
    """Targets must have been loaded within `freshness_minutes` (at least one minute, Dagster's floor)."""
    if section != "targets" or cfg.sla is None or cfg.sla.freshness_minutes is None:
        return None
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=max(1.0, cfg.sla.freshness_minutes)))


def asset_kwargs(cfg: PipelineConfig, section: str) -> dict[str, Any]:
    """The `@dg.asset` arguments the SLA adds."""
    policy = freshness_policy(cfg, section)
    return {"freshness_policy": policy} if policy else {}
