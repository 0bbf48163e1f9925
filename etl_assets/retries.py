"""`retry` mappings -> Dagster retry policies (an asset's own mapping overrides the pipeline's)."""
from __future__ import annotations

from typing import Any

import dagster as dg

from .config.models import PipelineConfig, RetryConfig

_BACKOFF = {"linear": dg.Backoff.LINEAR, "exponential": dg.Backoff.EXPONENTIAL}


def retry_policy(cfg: PipelineConfig, item: Any) -> dg.RetryPolicy | None:
    """The policy for one source, transform or target; None when neither it nor the pipeline says."""
    retry: RetryConfig | None = item.retry or cfg.retry
    if retry is None or retry.max_retries == 0:
        return None
    return dg.RetryPolicy(max_retries=retry.max_retries, delay=retry.delay_seconds, backoff=_BACKOFF[retry.backoff])
