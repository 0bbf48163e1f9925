"""YAML-configured ETL pipelines as Dagster assets.

`defs` holds every valid pipeline of the configs directory ($ETL_CONFIGS_DIR, default `configs/`),
so `dagster job execute -m etl_assets -j <pipeline>` and `dagster dev` (workspace.yaml) work.
It is built on first access, so importing a submodule (the CLI, the config models) stays cheap.
"""
from __future__ import annotations

import functools
import gc
from typing import Any


@functools.cache
def _defs() -> Any:
    from .definitions import load_definitions

    defs = load_definitions()
    gc.freeze()  # they live as long as the process (a code server, `dagster job execute`): never walk them again
    return defs


def __getattr__(name: str) -> Any:
    if name == "defs":
        return _defs()
    raise AttributeError(f"module 'etl_assets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "defs"])
