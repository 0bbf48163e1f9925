"""Helpers for sensor tests: a pipeline config in a temp dir, loaded like the code location loads it."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from etl_assets.config import LoadedPipeline, load_pipeline

WATCHED = """\
pipeline: drops
connections:
  warehouse: {{type: sql, url: "sqlite:///{db}"}}
sources:
  - name: incoming
    type: file
    path: ../drop/*.csv
    watch: {{interval_seconds: 1, settle_seconds: {settle}, max_files_per_tick: {limit}, default_status: {status}}}
transforms:
  - name: cleaned
    input: incoming
    steps:
      - filter: "amount >= 0"
targets:
  - name: amounts
    input: cleaned
    type: sql
    connection: warehouse
    table: amounts
    mode: append
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., LoadedPipeline]:
    """Write configs/<name>.yaml from a template and load it; the drop folder is tmp_path/drop."""

    def write(text: str = WATCHED, name: str = "drops", **values: object) -> LoadedPipeline:
        configs = tmp_path / "configs"
        configs.mkdir(exist_ok=True)
        (tmp_path / "drop").mkdir(exist_ok=True)
        defaults = {"db": tmp_path / "warehouse.db", "limit": 100, "status": "running", "settle": 0}
        path = configs / f"{name}.yaml"
        path.write_text(text.format(**{**defaults, **values}))
        return load_pipeline(path)

    return write

