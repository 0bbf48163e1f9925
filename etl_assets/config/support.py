"""Features of the contract whose runtime is not built yet: validation reports them, never a silent no-op."""
from __future__ import annotations

from typing import Any

from .models import PipelineConfig

UNSUPPORTED: dict[str, str] = {
    "watch on a partitioned pipeline": "a sensor run has no partition; use the schedule or backfills",
}
"""Features that validate but cannot run yet; an entry is removed when its runtime lands."""


def unsupported_features(cfg: PipelineConfig) -> list[tuple[tuple[Any, ...], str]]:
    """(yaml path, message) for each use of a feature that is validated but not yet runnable."""
    found: list[tuple[tuple[Any, ...], str]] = []

    def flag(path: tuple[Any, ...], feature: str) -> None:
        if feature in UNSUPPORTED:
            found.append((path, f"{feature} is not supported yet ({UNSUPPORTED[feature]})"))

    for i, src in enumerate(cfg.sources):
        flag(("sources", i, "type"), f"source type '{src.type}'")
        if getattr(src, "watch", None) and cfg.partitions is not None:
            flag(("sources", i, "watch"), "watch on a partitioned pipeline")
        if getattr(src, "checks", None):
            flag(("sources", i, "checks"), "checks")
    for i, t in enumerate(cfg.transforms):
        if t.checks:
            flag(("transforms", i, "checks"), "checks")
    for key in ("schedule", "partitions", "alerts", "sla", "quarantine"):
        if getattr(cfg, key) is not None:
            flag((key,), key)
    return found
